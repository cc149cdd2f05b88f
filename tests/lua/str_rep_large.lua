-- building larger strings with rep and gsub counts
local s = string.rep("abc", 10000)
print(#s, s:sub(1, 6), s:sub(-3))
local _, n = s:gsub("b", "")
print(n)
local t = string.rep("x", 5, ", ")
print(t, #t)
print(#string.rep("ab", 1000, "-"))
