-- nested pcalls are bounded like PUC Lua's C calls: the innermost returns false, 'C stack overflow'
local n = 0
local function f() n = n + 1 return pcall(f) end
print(select("#", f()), n)
local function g(d) if d == 0 then return "bottom" end return pcall(g, d - 1) end
print(select("#", g(150)))
print(g(3))
local function h() return pcall(h) end print(select("#", h()))
