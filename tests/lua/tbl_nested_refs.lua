-- tables are references; aliasing and nested mutation
local a = {x = 1}
local b = a
b.x = 2
print(a.x, a == b, {} == {})
local grid = {}
for i = 1, 3 do grid[i] = {} for j = 1, 3 do grid[i][j] = i * j end end
for i = 1, 3 do print(table.concat(grid[i], " ")) end
local function modify(t) t.changed = true; t = {} ; t.other = true end
modify(a)
print(a.changed, a.other)
local self_ref = {}
self_ref.me = self_ref
print(self_ref.me.me.me == self_ref)
