-- escaping magic characters ( ) . % + - * ? [ ^ $
local function escape(s) return (s:gsub("[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0")) end
local needle = "a.b*c+(d)?[e]^$%-"
print(escape(needle))
print(string.find("xx" .. needle .. "yy", escape(needle)))
print(string.gsub("1+1=2", "%+", " plus "))
print(string.match("50%", "%d+%%"))
print(string.gsub("a.b.c", ".", "x"))
print(pcall(string.find, "abc", "%"))
print(pcall(string.find, "abc", "[a"))
print(pcall(string.match, "abc", "(()"))
