-- pattern anchors ^ and $
print(string.find("hello", "^h"), string.find("hello", "^e"), string.find("hello", "o$"))
print(string.match("hello", "^(h.-)$"), string.match("a$b", "a$b"), string.match("a$", "a%$"))
print(string.find("abc", "^b", 2), string.match("xabc", "^abc"))
print(string.gsub("aaa", "^a", "b"))
print(string.match("^x", "^^x"))
print(string.find("line\n", "\n$"))
