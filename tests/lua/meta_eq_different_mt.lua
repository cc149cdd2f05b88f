-- __eq tried from first operand then second even with different metatables
local m1 = {__eq = function() return true end}
local m2 = {}
local a = setmetatable({}, m1)
local b = setmetatable({}, m2)
print(a == b, b == a, a == {}, {} == a)
local c = setmetatable({}, {__eq = function() return false end})
print(c == c, c == setmetatable({}, {}))
