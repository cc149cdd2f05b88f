-- transcendental functions with formatted output
local function f(x) return string.format("%.6f", x) end
print(f(math.sqrt(2)), math.sqrt(16), math.sqrt(-1) ~= math.sqrt(-1))
print(f(math.exp(1)), math.exp(0), f(math.log(10)))
print(math.log(8, 2), math.log(100, 10), math.log(1), f(math.log(27, 3)))
print(math.log(0), math.log(1024, 2), math.log(1000, 10))
print(f(math.sin(math.pi / 2)), f(math.cos(0)), f(math.tan(math.pi / 4)))
print(f(math.asin(1)), f(math.acos(0)), f(math.atan(1)))
print(f(math.atan(1, -1)), f(math.atan(-1, -1)), f(math.atan(0, -1)), math.atan(0, 1))
print(f(math.pi), math.huge, -math.huge)
print(math.sin(0), math.cos(0), math.type(math.sqrt(4)))
