-- string.find with init and plain
print(string.find("hello world", "o"), string.find("hello world", "o", 6))
print(string.find("hello world", "xyz"), string.find("hello", "l", -2))
print(string.find("a.b", ".", 1, true), string.find("a.b", "%."), string.find("a+b", "+", 1, true))
print(string.find("hello", ""), string.find("hello", "", 10), string.find("hello", "", 6))
print(string.find("hello", "(l)(l)"), string.find("abc", "b", -10))
print(string.find("x(y)", "(", 1, true))
print(pcall(string.find, "x(y)", "("))
print(("aaa"):find("a", 0), ("abc"):find("c", 3))
