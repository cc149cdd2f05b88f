-- string.byte with negative ranges and char roundtrip
local s = "Hello, Lua!"
print(s:byte(-4, -1))
print(s:byte(0), s:byte(100), select("#", s:byte(5, 3)))
local codes = {s:byte(1, -1)}
print(#codes, string.char(table.unpack(codes)) == s)
local all = {}
for i = 0, 255 do all[#all + 1] = string.char(i) end
local bin = table.concat(all)
print(#bin, bin:byte(1), bin:byte(256), bin:sub(66, 70))
