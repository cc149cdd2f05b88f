-- character sets, ranges, and negated sets
print(string.match("hello123", "[a-z]+"), string.match("hello123", "[0-9]+"))
print(string.match("ABCdef", "[^A-Z]+"), string.match("x-y", "[%-]"), string.match("a]b", "[]]"))
print(string.gsub("hello world", "[aeiou]", "*"))
print(string.gsub("a1b2c3", "[%d]", ""))
print(string.match("foo_bar9", "[%w_]+"), string.match("$$$x", "[^$]"))
print(string.match("abc-def", "[a-c-]+"), string.match("^a", "[%^a]+"))
print(string.gsub("tab\tnew\nline", "[\t\n]", " "))
print(string.match("HeLLo", "[A-Z][a-z]"), string.match("xyz", "[^%a]"))
