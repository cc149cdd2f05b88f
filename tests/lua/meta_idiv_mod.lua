-- __idiv and __mod on a rational-number-like type
local R = {}
R.__index = R
local function r(n) return setmetatable({n = n}, R) end
R.__idiv = function(a, b) return r(a.n // b.n) end
R.__mod = function(a, b) return r(a.n % b.n) end
R.__pow = function(a, b) return r(a.n ^ (type(b) == "table" and b.n or b)) end
print((r(17) // r(5)).n, (r(17) % r(5)).n, (r(2) ^ 10).n, (r(-17) // r(5)).n)
