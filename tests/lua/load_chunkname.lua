-- chunkname affects error positions of loaded code
local f = load("error('boom')", "=named")
print(pcall(f))
local g = load("local t = nil\nreturn t.x", "@virtual.lua")
print(pcall(g))
local h = load("error('in string chunk')")
print(pcall(h))
local k = load("\n\nerror('line three')", "chunk")
print(pcall(k))
