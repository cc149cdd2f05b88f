-- arithmetic error texts with different operand kinds
local t, s, b = {}, "str", true
local function try(f) print(select(2, pcall(f))) end
try(function() return t + 1 end)
try(function() return 1 - b end)
try(function() return s * 2 end)
try(function() return -t end)
try(function() return t.field / 2 end)
try(function() return 2 ^ {} end)
try(function() return ~t end)
try(function() return t & 1 end)
try(function() return b .. "x" end)
try(function() return missing_a + missing_b end)
try(function() return 10 % t end)
