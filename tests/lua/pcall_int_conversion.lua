-- "number has no integer representation" in different contexts
local function try(f) print(select(2, pcall(f))) end
try(function() return 1.5 // 1 | 0 end)
try(function() return 2.5 & 1 end)
try(function() return ("x"):rep(1.5) end)
try(function() return string.char(65.5) end)
try(function() local t = {1, 2} return table.unpack(t, 1.5) end)
try(function() return 1 << 1.5 end)
try(function() return math.huge | 0 end)
print(3.0 | 0, 2^53 | 0)
