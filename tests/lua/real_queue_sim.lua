-- bank queue simulation with a deterministic LCG and a ring-buffer queue
local Queue = {}
Queue.__index = Queue
function Queue.new() return setmetatable({head = 1, tail = 0, items = {}}, Queue) end
function Queue:push(v) self.tail = self.tail + 1; self.items[self.tail] = v end
function Queue:pop()
  if self.head > self.tail then return nil end
  local v = self.items[self.head]; self.items[self.head] = nil; self.head = self.head + 1
  return v
end
function Queue:size() return self.tail - self.head + 1 end
local seed = 7
local function rand(n) seed = (seed * 48271) % 2147483647; return seed % n end
local q = Queue.new()
local served, waited, maxlen = 0, 0, 0
for tick = 1, 500 do
  if rand(10) < 4 then q:push(tick) end
  if tick % 3 == 0 then
    local t = q:pop()
    if t then served = served + 1; waited = waited + (tick - t) end
  end
  if q:size() > maxlen then maxlen = q:size() end
end
print(served, waited, maxlen, q:size())
print(string.format("avg wait %.3f", waited / served))
