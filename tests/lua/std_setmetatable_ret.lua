-- setmetatable/getmetatable basics
local t = {}
local mt = {}
print(setmetatable(t, mt) == t, getmetatable(t) == mt)
print(setmetatable(t, nil) == t, getmetatable(t))
print(getmetatable("abc").__index == string, getmetatable(1), getmetatable(nil))
print(pcall(setmetatable, 1, {}))
print(pcall(setmetatable, {}, 5))
