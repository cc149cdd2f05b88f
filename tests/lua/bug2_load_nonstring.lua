-- regression (second differential probing round): load_nonstring.lua
print(pcall(load, 123))
print(pcall(load, nil))
