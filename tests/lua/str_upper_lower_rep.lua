-- upper, lower, rep (with separator), reverse
print(("Hello World 123"):upper(), ("Hello World 123"):lower())
print(string.rep("ab", 3), string.rep("ab", 3, "-"), string.rep("x", 0), string.rep("x", -1))
print(string.rep("a", 1, ","), ("="):rep(10))
print(("hello"):reverse(), (""):reverse(), ("a"):reverse())
print(#string.rep("abc", 1000))
print(string.rep("", 5, "|"))
