-- result types of mixed int/float arithmetic
local function t(x) return math.type(x) end
print(t(1 + 1), t(1 + 1.0), t(2 * 3), t(2 * 3.0), t(6 - 1.0))
print(t(7 // 2), t(7 // 2.0), t(7 % 2), t(7 % 2.0), t(2 ^ 2), t(4 / 2))
print(1 + 1.0, 2 * 3.0, 6 - 1.0, 3 - 3.0)
print(1e300 * 1e10, -1e300 * 1e10)
print(0.1 + 0.2 == 0.3, 0.5 + 0.25 == 0.75)
