-- __newindex chain: table targets can themselves have __newindex
local log = {}
local inner = setmetatable({}, {__newindex = function(t, k, v) log[#log + 1] = k; rawset(t, k, v) end})
local outer = setmetatable({}, {__newindex = inner})
outer.a = 1
outer.b = 2
print(rawget(outer, "a"), rawget(inner, "a"), inner.b, table.concat(log, ","))
local existing = setmetatable({x = 1}, {__newindex = function() error("never") end})
existing.x = 2
print(existing.x)
