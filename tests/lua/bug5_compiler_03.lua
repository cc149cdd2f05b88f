-- regression (compiler review): case 03
local t = {}
local old = t;
(t)[1], t = "v", {}
print(old[1], t[1])
