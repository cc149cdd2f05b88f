-- a tail call to pcall (or another native) returns all its results
local function f() return pcall(function() return 1, 2, 3 end) end
print(f())
local function g() return pcall(function() error("inner") end) end
print(g())
local function h(...) return select('#', ...), ... end
local function k() return h(nil, nil) end
print(k())
local function m() return tostring(12) end
print(m())
local t = setmetatable({}, {__call = function(self, a) return "called", a end})
local function n() return t(7) end
print(n())
