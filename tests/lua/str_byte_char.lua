-- string.byte and string.char
print(string.byte("A"), string.byte("ABC", 2), string.byte("ABC", 1, 3))
print(string.byte("ABC", -1), string.byte("ABC", 10), select("#", string.byte("ABC", 10)))
print(string.char(72, 105), string.char(), #string.char(0, 255))
print(("hello"):byte(1, -1))
print(pcall(string.char, 256))
print(pcall(string.char, -1))
local t = {}
for i = 97, 102 do t[#t + 1] = string.char(i) end
print(table.concat(t))
