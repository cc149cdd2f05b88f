-- calling non-function values
local function try(f) print(select(2, pcall(f))) end
try(function() local x = 5; x() end)
try(function() local s = "str"; s() end)
try(function() local t = {}; t.method() end)
try(function() local t = {}; t:method() end)
try(function() nope() end)
try(function() local a = {b = {}}; a.b.c() end)
try(function() (nil)() end)
try(function() local up = true; return (function() up() end)() end)
