-- regression (compiler review): case 02
local t, i = {}, 1
t[(i)], i = "w", 2
print(t[1], t[2])
