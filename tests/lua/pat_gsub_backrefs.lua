-- gsub %0-%9 replacement and back-references %1 in patterns
print(string.gsub("hello", "(l)(l)", "[%2%1]"))
print(string.gsub("abc", ".", "%0%0"))
print(string.gsub("a1b2", "(%a)(%d)", "%2%1%%"))
print(string.match("say 'hi' ok", "(['\"])(.-)%1"))
print(string.match([[x "a'b" y]], "([\"'])(.-)%1"))
print(string.find("abcabc", "(abc)%1"))
print(string.gsub("1 2 3 4 5 6 7 8 9", "(%d) (%d) (%d) (%d) (%d) (%d) (%d) (%d) (%d)", "%9%8%7%6%5%4%3%2%1"))
print(string.gsub("abc", "b", "%1"))
