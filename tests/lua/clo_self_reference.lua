-- functions referencing themselves through upvalues and tables
local obj = {}
function obj.countdown(n) if n == 0 then return "liftoff" end return obj.countdown(n - 1) end
print(obj.countdown(5))
local function Y(f) return function(...) return f(Y(f), ...) end end
local fact = Y(function(self, n) if n <= 1 then return 1 end return n * self(n - 1) end)
print(fact(12))
local t = {}
t.f = function() return t end
print(t.f().f().f() == t)
