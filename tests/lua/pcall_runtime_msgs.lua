-- exact texts of common runtime errors with variable info
local function try(f) local ok, e = pcall(f) print(e) end
try(function() return undefined_global.field end)
try(function() local t = nil; return t.x end)
try(function() local a = {}; return a.b.c end)
local u
try(function() return u.x end)
try(function() local obj = {}; obj:m() end)
try(function() return undefined_global + 1 end)
try(function() local t = {}; return "s" .. t end)
try(function() return 1 < nil end)
try(function() return {} < {} end)
try(function() undefined_fn() end)
try(function() local t = {} t.x.y = 1 end)
try(function() local s = "abc" return s.x.y end)
try(function() return #nil end)
try(function() local n = 5 return n() end)
try(function() local t = {} return t.f() end)
