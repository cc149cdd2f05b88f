-- uncaught error with level 0 has no position
io.write("partial line ")
print("done")
error("plain message", 0)
