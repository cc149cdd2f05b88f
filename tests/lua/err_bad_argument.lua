-- uncaught bad argument to a library function
print(string.rep("ab", 2))
table.insert(nil, "x")
