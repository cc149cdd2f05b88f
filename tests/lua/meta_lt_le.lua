-- __lt and __le, including > and >= swapping operands
local mt = {}
mt.__lt = function(a, b) return a.v < b.v end
mt.__le = function(a, b) return a.v <= b.v end
local function n(v) return setmetatable({v = v}, mt) end
local a, b = n(1), n(2)
print(a < b, a > b, a <= b, a >= b, a <= n(1), a >= n(1))
local items = {n(5), n(3), n(9), n(1)}
table.sort(items)
for _, x in ipairs(items) do io.write(x.v, " ") end print()
print(pcall(function() return a < 1 end))
local mixed = setmetatable({}, {__lt = function(x, y) return type(x) .. "<" .. type(y) end})
print(mixed < 1, 1 < mixed)
