-- bench: allocation and GC pressure: many short-lived binary trees of record nodes plus one long-lived tree
-- luajit: yes
local MIN_DEPTH = 4
local MAX_DEPTH = 15

local function build(depth, label)
  if depth == 0 then
    return { label = label }
  end
  return {
    label = label,
    left = build(depth - 1, label * 2 % 1009),
    right = build(depth - 1, (label * 2 + 1) % 1009),
  }
end

local function walk(node)
  local left = node.left
  if not left then return 1, node.label end
  local n1, s1 = walk(left)
  local n2, s2 = walk(node.right)
  return n1 + n2 + 1, (s1 + s2 + node.label) % 1000003
end

local function mirror(node)
  if not node.left then return { label = node.label } end
  return { label = node.label, left = mirror(node.right), right = mirror(node.left) }
end

local function leftmost_path(node)
  local path = {}
  while node do
    path[#path + 1] = node.label
    node = node.left
  end
  return path
end

local long_lived = build(MAX_DEPTH, 1)
local out = {}
for depth = MIN_DEPTH, MAX_DEPTH, 2 do
  local iterations = math.floor(2 ^ (MAX_DEPTH - depth + MIN_DEPTH))
  local nodes, sum = 0, 0
  for i = 1, iterations do
    local t = build(depth, i % 1009)
    local n, s = walk(t)
    nodes = nodes + n
    sum = (sum + s) % 1000003
    if i % 64 == 0 then
      local m = mirror(t)
      local n2, s2 = walk(m)
      nodes = nodes + n2
      sum = (sum + s2 + #leftmost_path(m)) % 1000003
    end
  end
  out[#out + 1] = string.format("d%d:%d:%d", depth, nodes, sum)
end
local n, s = walk(long_lived)
out[#out + 1] = string.format("long:%d:%d", n, s)
print(table.concat(out, " "))
