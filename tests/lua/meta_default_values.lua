-- shared metatable providing per-table default values
local key = {}
local mt = {__index = function(t) return t[key] end}
local function setDefault(t, d) t[key] = d; return setmetatable(t, mt) end
local a = setDefault({x = 1}, 0)
local b = setDefault({}, "none")
print(a.x, a.y, b.y, b[1])
a.y = 5
print(a.y, rawget(b, "y"))
local counts = setmetatable({}, {__index = function() return 0 end})
for c in ("mississippi"):gmatch(".") do counts[c] = counts[c] + 1 end
print(counts.m, counts.i, counts.s, counts.p, counts.z)
