-- bench: shortest paths on a weighted grid graph with a binary-heap priority queue written in Lua
-- luajit: yes
local SIZE = 450

local seed = 99
local function rand(n)
  seed = (seed * 16807) % 2147483647
  return seed % n + 1
end

-- grid cell costs
local cost = {}
for i = 1, SIZE * SIZE do cost[i] = rand(9) end

-- heap of {dist, node} records
local Heap = {}
Heap.__index = Heap
local function new_heap() return setmetatable({ n = 0, items = {} }, Heap) end
function Heap:push(d, v)
  local items = self.items
  local i = self.n + 1
  self.n = i
  items[i] = { d = d, v = v }
  while i > 1 do
    local p = math.floor(i / 2)
    if items[p].d <= items[i].d then break end
    items[p], items[i] = items[i], items[p]
    i = p
  end
end
function Heap:pop()
  local items = self.items
  local top = items[1]
  local n = self.n
  items[1] = items[n]
  items[n] = nil
  n = n - 1
  self.n = n
  local i = 1
  while true do
    local l = i * 2
    if l > n then break end
    local m = l
    if l + 1 <= n and items[l + 1].d < items[l].d then m = l + 1 end
    if items[i].d <= items[m].d then break end
    items[i], items[m] = items[m], items[i]
    i = m
  end
  return top.d, top.v
end

local function dijkstra(src)
  local dist = {}
  local total = SIZE * SIZE
  for i = 1, total do dist[i] = math.huge end
  dist[src] = 0
  local h = new_heap()
  h:push(0, src)
  local pops = 0
  while h.n > 0 do
    local d, u = h:pop()
    pops = pops + 1
    if d == dist[u] then
      local row = math.floor((u - 1) / SIZE)
      local col = (u - 1) % SIZE
      local nbrs = {}
      if col > 0 then nbrs[#nbrs + 1] = u - 1 end
      if col < SIZE - 1 then nbrs[#nbrs + 1] = u + 1 end
      if row > 0 then nbrs[#nbrs + 1] = u - SIZE end
      if row < SIZE - 1 then nbrs[#nbrs + 1] = u + SIZE end
      for k = 1, #nbrs do
        local v = nbrs[k]
        local nd = d + cost[v]
        if nd < dist[v] then
          dist[v] = nd
          h:push(nd, v)
        end
      end
    end
  end
  return dist, pops
end

local out = {}
local sources = { 1, SIZE, SIZE * SIZE, math.floor(SIZE * SIZE / 2) + 7 }
for _, s in ipairs(sources) do
  local dist, pops = dijkstra(s)
  local sum, far = 0, 0
  for i = 1, #dist do
    sum = sum + dist[i]
    if dist[i] > far then far = dist[i] end
  end
  out[#out + 1] = string.format("%d:%d:%d:%d", dist[SIZE * SIZE - s + 1], far, sum, pops)
end
print(table.concat(out, " "))
