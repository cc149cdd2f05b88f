-- multiple assignment evaluation order and swaps
local a, b, c = 1, 2
print(a, b, c)
a, b = b, a
print(a, b)
local t = {1, 2, 3}
local i = 1
i, t[i] = i + 1, "x"
print(i, t[1], t[2])
local x, y = (function() return 1, 2, 3 end)()
print(x, y)
local p, q, r = 0
print(p, q, r)
local u, v = 1, 2, 3
print(u, v)
