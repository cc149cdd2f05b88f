-- index error texts for globals, locals, fields, upvalues, constants
local function try(f) print(select(2, pcall(f))) end
local up = nil
try(function() return x.y end)
try(function() local l; return l.y end)
try(function() local t = {}; return t.a.b end)
try(function() return up.y end)
try(function() local t = {a = {}}; return t.a.b.c end)
try(function() local n = 1; return n.x end)
try(function() local b = false; b.x = 1 end)
try(function() x = nil; x.y = 1 end)
try(function() return ("x").y.z end)
