-- __eq only for two tables, result converted to boolean
local mt = {__eq = function(a, b) return a.v == b.v end}
local a = setmetatable({v = 1}, mt)
local b = setmetatable({v = 1}, mt)
local c = setmetatable({v = 2}, mt)
print(a == b, a ~= b, a == c, a ~= c)
print(a == 1, a == "x", rawequal(a, b))
local other = setmetatable({v = 1}, {__eq = function() return "truthy" end})
print(other == setmetatable({}, {}), setmetatable({}, {}) == other)
local calls = 0
local m2 = {__eq = function() calls = calls + 1 return true end}
local x = setmetatable({}, m2)
print(x == x, calls)
