-- bad argument errors from library functions
local function try(f, ...) print(select(2, pcall(f, ...))) end
try(table.insert, nil, 1)
try(table.concat, nil)
try(string.upper)
try(string.rep, "x")
try(math.abs, "a")
try(math.sqrt, {})
try(tonumber)
try(table.remove, "x")
try(string.format, "%d", {})
try(setmetatable, nil, {})
try(string.byte, {})
-- same functions called from Lua code report the short field name
try(function() table.insert(nil, 1) end)
try(function() local s = string.rep("x") end)
try(function() return ("x"):rep({}) end)
try(function() return math.floor({}) end)
