-- # operator and .. concatenation with numbers
local s = "hello"
print(#s, #"", #"a\0b", string.len("abc"), ("xyz"):len())
print(s .. " " .. "world", 1 .. "", 1.0 .. "", 2 .. 3)
print("x" .. 10 // 3, "v" .. -1, "f" .. 1e20, "m" .. math.mininteger)
local parts = ""
for i = 1, 5 do parts = parts .. i .. "," end
print(parts)
print(pcall(function() return "a" .. nil end))
print(pcall(function() return "a" .. true end))
