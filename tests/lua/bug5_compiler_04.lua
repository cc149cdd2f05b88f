-- regression (compiler review): case 04
local t, y = {}
local old = t
t[1], y = "v", (function() t = {} end)()
print(old[1], t[1])
