-- print and io.write formatting of multiple values
print(1, "two", nil, false, 3.0)
print()
print(nil)
io.write("a", 1, 2.5, "\n")
io.write()
io.write(-0.0, " ", 1e16, " ", math.mininteger, "\n")
