-- regression (second differential probing round): math_max_single_arg.lua
print(pcall(math.max, 1, "2"))
print(pcall(math.min, 2, "1"))
print(math.max("a"), math.min("b"))
