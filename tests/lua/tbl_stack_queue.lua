-- using tables as stack and queue
local stack = {}
for i = 1, 5 do stack[#stack + 1] = i end
local out = {}
while #stack > 0 do out[#out + 1] = table.remove(stack) end
print(table.concat(out, " "))
local q = {first = 1, last = 0, items = {}}
local function push(v) q.last = q.last + 1; q.items[q.last] = v end
local function pop() local v = q.items[q.first]; q.items[q.first] = nil; q.first = q.first + 1; return v end
for c in ("abcde"):gmatch(".") do push(c) end
print(pop(), pop())
push("f")
local rest = {}
while q.first <= q.last do rest[#rest + 1] = pop() end
print(table.concat(rest))
