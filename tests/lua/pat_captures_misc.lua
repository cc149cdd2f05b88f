-- position captures in gsub/gmatch and empty matches
print(string.gsub("abc", "()", "%1"))
print(string.gsub("hello world", "()o", "%1"))
print(string.gsub("abc", "b*", "-"))
print(string.gsub("", "x*", "y"))
print(string.find("abc", "(x*)"))
print(string.match("key:", "(%w+):(%w*)"))
local t = {}
for pos, word in string.gmatch("ab cd ef", "()(%a+)") do t[#t + 1] = pos .. "=" .. word end
print(table.concat(t, " "))
