-- quantifiers * + - ? greedy vs lazy
print(string.match("<a><b>", "<(.*)>"), string.match("<a><b>", "<(.-)>"))
print(string.match("aaab", "a*"), string.match("aaab", "a-b"), string.match("b", "a+"))
print(string.match("color colour", "colou?r"), string.gsub("color colour", "colou?r", "X"))
print(string.match("123abc", "^%d*"), string.match("abc", "^%d*") == "")
print(string.find("aaa", "a-"), string.find("aaa", "a-$"))
print(string.match("if (a and (b)) then", "%((.*)%)"))
print(string.match("x = 10;", "=%s?(%d+)"))
print(string.match("aXbXc", "(.-)X(.*)"))
