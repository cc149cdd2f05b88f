-- metamethods on tables used with numbers in expressions
local Num = {}
Num.__index = Num
local function N(v) return setmetatable({v = v}, Num) end
Num.__add = function(a, b)
  local av = type(a) == "table" and a.v or a
  local bv = type(b) == "table" and b.v or b
  return N(av + bv)
end
Num.__unm = function(a) return N(-a.v) end
Num.__len = function(a) return a.v end
Num.__lt = function(a, b) return a.v < b.v end
local x = N(5)
local y = -(x + 1 + x)
print(y.v, #x, #y, x < N(6), N(7) < x)
local s = N(0)
for i = 1, 10 do s = s + i end
print(s.v)
