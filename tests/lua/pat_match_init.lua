-- match/find with init beyond length and negative init
print(string.match("hello", ".", 10), string.match("hello", "()$", 10))
print(string.find("hello", "l", -1), string.find("hello", "l", -3))
print(string.match("hello", "(.)", -1), string.match("hello", "^(.)", 3))
print(string.find("", ""), string.find("", "", 1), string.find("", "", 2))
print(string.match("abc", ".-$", 2))
