-- runtime errors inside loaded code carry the chunk name
local f = load("local a = nil; return a + 1", "=calc")
print(pcall(f))
local g = load("return undefined_thing.x")
print(pcall(g))
local ok, e = pcall(load("error({tag = 'x'})"))
print(ok, e.tag)
