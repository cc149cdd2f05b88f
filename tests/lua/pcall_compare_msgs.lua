-- comparison error texts
local function try(f) print(select(2, pcall(f))) end
try(function() return 1 < "x" end)
try(function() return "x" < 1 end)
try(function() return {} <= 1 end)
try(function() return nil > 1 end)
try(function() return true < false end)
try(function() return print < print end)
try(function() return {} < {} end)
try(function() return 1 >= nil end)
