-- loaded chunks share globals with the caller
shared_value = 10
local f = load("shared_value = shared_value + 5; return shared_value")
print(f(), shared_value)
local local_value = 1
local g = load("return local_value")
print(g())
local fn = load("return function(x) return x * shared_value end")()
print(fn(2))
