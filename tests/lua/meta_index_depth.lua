-- long __index chain and __index function mixed with tables
local base = {v = "base"}
local cur = base
for i = 1, 50 do cur = setmetatable({}, {__index = cur}) end
print(cur.v)
local f = setmetatable({}, {__index = function(_, k) return "fn:" .. k end})
local mid = setmetatable({}, {__index = f})
local top = setmetatable({}, {__index = mid})
print(top.anything, top[1])
