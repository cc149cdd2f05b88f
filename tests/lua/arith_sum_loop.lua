-- accumulating sums of ints and floats
local s, f = 0, 0.0
for i = 1, 1000 do s = s + i; f = f + i / 10 end
print(s, f, math.type(s), math.type(f))
local h = 0
for i = 1, 10 do h = h + 1 / i end
print(h, string.format("%.10f", h))
