-- fibonacci with integers past 2^63 wraps
local a, b = 0, 1
for i = 1, 95 do a, b = b, a + b end
print(a)
local c, d = 0.0, 1.0
for i = 1, 95 do c, d = d, c + d end
print(c, string.format("%.0f", c))
