-- table constructors: positional, keyed, mixed, trailing separators
local t = {1, 2, 3, x = "a", ["y z"] = "b", [10] = "c"; 4,}
print(#t, t[1], t[4], t.x, t["y z"], t[10])
local u = {[1] = "a", [2] = "b", "c"}
print(u[1], u[2])
local function three() return 1, 2, 3 end
local v = {three()}
local w = {three(), three()}
local x = {(three())}
print(#v, #w, #x)
local y = {three(), 10}
print(#y, y[1], y[2])
local nested = {a = {b = {c = "deep"}}}
print(nested.a.b.c)
print(#{}, #{nil}, #{n = 1})
