-- Tier 2 guards field reads on the hash slot tier 1's inline cache last
-- found the key in; every way that stops holding must give lua5.4's result.

local function sum_x(ps, n)
  local s = 0
  for i = 1, n do s = s + ps[i].x end
  return s
end

local function norm(p) return p.x * p.x + p.y * p.y end

local function points(n)
  local ps = {}
  for i = 1, n do ps[i] = { x = i, y = i * 0.5 } end
  return ps
end

local total = 0
for _ = 1, 300 do
  local ps = points(40)
  total = total + sum_x(ps, 40)
  for i = 1, 40 do total = total + norm(ps[i]) end
end
print("warm", total)

-- the same fields inserted in another order, and in a bigger table
local ps = points(10)
ps[3] = { y = 1.5, x = 3 }
local wide = {}
for j = 1, 30 do wide["k" .. j] = j end
wide.x, wide.y = 5, 2.5
ps[5] = wide
print("layouts", sum_x(ps, 10), norm(ps[3]), norm(ps[5]))

-- a field's value changes type
ps[7].x = 7.5
print("float x", sum_x(ps, 10), norm(ps[7]))
ps[7].x = "7"
print("string x", sum_x(ps, 10))

-- a field removed, then supplied by __index
ps[8].x = nil
print("nil x", pcall(sum_x, ps, 10))
setmetatable(ps[8], { __index = { x = 800 } })
print("inherited x", sum_x(ps, 10))

-- the table grows: its hash part is rebuilt and keys change slots
local grow = points(10)
for i = 1, 10 do
  for j = 1, i * 3 do grow[i]["extra" .. j] = j end
end
print("grown", sum_x(grow, 10), norm(grow[10]))

-- not a table
local mixed = points(4)
mixed[2] = "str"
print("string object", pcall(sum_x, mixed, 4))
mixed[2] = 42
print("number object", pcall(sum_x, mixed, 4))

-- a field deleted and re-added in the same slot
local p = { x = 1, y = 2 }
local acc = 0
for i = 1, 500 do
  if i % 100 == 0 then p.x = nil; p.x = i end
  acc = acc + p.x
end
print("readd", acc)

-- fields read through a proxy with __index function
local proxy = setmetatable({}, { __index = function(_, k) return #k end })
local arr = { proxy, { x = 10, y = 0 } }
print("proxy", sum_x(arr, 2), pcall(norm, proxy))

-- field writes: warm up on updates of existing fields
local function push(ps, n, dx)
  for i = 1, n do
    local q = ps[i]
    q.x = q.x + dx
    q.y = q.y - dx
  end
end
for _ = 1, 300 do push(points(20), 20, 1) end

-- another layout, a removed field with __newindex, a lookup-chain table
local ws = points(6)
ws[2] = { y = 0, x = 2 }
ws[3] = wide
local newindexed = {}
ws[4].x = nil
setmetatable(ws[4], {
  __index = { x = 40 },
  __newindex = function(t, k, v) newindexed[#newindexed + 1] = k; rawset(t, k, v * 100) end,
})
local base = ws[5]
local child = setmetatable({}, { __index = base })
local seen_before = child.x
push(ws, 6, 3)
print("writes", ws[1].x, ws[2].x, ws[3].x, ws[4].x, ws[5].x, ws[6].y, table.concat(newindexed, ","))
print("chain", seen_before, child.x, child.y)
print("write error", pcall(push, { ws[1], "s" }, 2, 1))
