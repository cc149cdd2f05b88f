-- regression (third differential probing round): collectgarbage_options
print(collectgarbage("step"))
print(collectgarbage("incremental"))
print(pcall(collectgarbage, "stop"))
print(pcall(collectgarbage, "setpause", 100))
