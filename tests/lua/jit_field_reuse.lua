-- Straight-line code that reads and writes the same fields again and again
-- (`p.vx = p.vx + dx * k`): tier 2 finds a field's hash node once and reuses
-- it, so every way the node could stop being that field's must be noticed.

local function step(p, dt)
  local dx, dy = 5.0 - p.x, 3.0 - p.y
  local k = 0.02 * (1 + p.charge * 0.5) / p.mass
  p.vx = p.vx + dx * k * dt
  p.vy = p.vy + dy * k * dt - 0.3 * dt
  p.x = p.x + p.vx * dt
  p.y = p.y + p.vy * dt
  p.n = p.n + 1
  return p.x + p.y + p.vx + p.vy
end

local ps = {}
for i = 1, 50 do
  ps[i] = { x = i * 0.1, y = i * 0.2, vx = 0.0, vy = 0.0, charge = i % 3 - 1, mass = 1 + i % 5, n = 0 }
end
local acc = 0.0
for r = 1, 200 do
  for i = 1, #ps do acc = acc + step(ps[i], 0.05) end
end
print(string.format("warm %.6f %d", acc, ps[7].n))

-- Aliases: two registers, one table.
local function alias(p, q)
  p.x = 1.5
  q.x = p.x + 2.0
  p.y = q.x * 2.0
  q.y = p.y + p.x
  return p.x, p.y, q.x, q.y
end
for _ = 1, 300 do alias({ x = 0.0, y = 0.0 }, { x = 0.0, y = 0.0 }) end
local t = { x = 0.0, y = 0.0 }
print(alias(t, t))

-- The register that held the table now holds another one.
local function swap(a, b)
  local t = a
  local s = t.x
  t = b
  s = s + t.x
  t.x = s
  return s, a.x, b.x
end
for i = 1, 300 do swap({ x = i }, { x = -i }) end
print(swap({ x = 10 }, { x = 32 }))

-- A field set to nil between a read and a write: with __newindex the
-- write must call it, and a later read must see nil.
local log = {}
local mt = { __newindex = function(t, k, v) log[#log + 1] = k .. "=" .. tostring(v); rawset(t, k, v) end,
  __index = function(t, k) return "idx:" .. k end }
local function clear_then_set(p, v)
  local old = p.a
  p.a = nil
  p.a = v
  return old, p.a
end
for i = 1, 300 do clear_then_set({ a = i }, i + 1) end
print(clear_then_set({ a = 1 }, 2))
local obj = setmetatable({ a = 5 }, mt)
print(clear_then_set(obj, 6))
print(table.concat(log, " "))
local function read_after_nil(p)
  local x = p.b
  p.b = nil
  return x, p.b
end
for i = 1, 300 do read_after_nil({ b = i }) end
print(read_after_nil({ b = 3 }))
print(read_after_nil(setmetatable({ b = 4 }, mt)))

-- New keys inserted between uses (the table may be rehashed and its nodes
-- moved), by a call and by a plain store of a new field.
local function grow(p, extra)
  local a = p.x
  extra(p)
  local b = p.x
  p.x = a + b
  p["k" .. a] = a
  return p.x, p.y
end
local function add_many(p) for i = 1, 20 do p["f" .. i] = i end end
for i = 1, 300 do grow({ x = i, y = 0 }, function() end) end
print(grow({ x = 4, y = 9 }, add_many))
print(pcall(grow, { x = 5, y = 8 }, function(p) p.x = nil end))

-- A class table (in an inherited-lookup chain) written after a read.
local Base = { count = 0 }
Base.__index = Base
local Derived = setmetatable({}, { __index = Base })
Derived.__index = Derived
local inst = setmetatable({}, Derived)
local function bump(c)
  local n = c.count
  c.count = n + 1
  return c.count
end
for _ = 1, 300 do bump(Base) end
print(bump(Base), inst.count, Derived.count)
Base.count = 1000
print(inst.count)

-- A field whose value turns from a number into a string mid-loop.
local function sum(ps)
  local s = 0
  for i = 1, #ps do
    local p = ps[i]
    s = s + p.x
    p.x = p.x * 2
  end
  return s
end
local qs = {}
for i = 1, 40 do qs[i] = { x = i } end
for _ = 1, 20 do sum(qs) end
qs[30].x = "3"
print(pcall(sum, qs))

-- Across `if`s: a field found before the branch is reused after it when
-- neither side could move it, and found again when one side inserts keys
-- (which may rehash the table) or calls anything.
local function bounce(p, w, grow)
  if p.x < 0.0 then p.x = -p.x; p.vx = -p.vx * 0.5; p.n = p.n + 1 end
  if p.x > w then p.x = 2 * w - p.x; p.vx = -p.vx * 0.5; p.n = p.n + 1 end
  if grow and p.n > 2 then
    for i = 1, 12 do p["extra" .. i] = i end
  end
  if p.n > 3 then p.alive = false else p.x = p.x + p.vx end
  return p.x, p.vx, p.n, p.alive
end
local bs = {}
for i = 1, 30 do bs[i] = { x = i - 15.5, vx = (i % 7) - 3.0, n = 0, alive = true } end
for r = 1, 60 do
  for i = 1, #bs do
    local b = bs[i]
    if b.alive then bounce(b, 10.0, r > 40 and i % 3 == 0) end
  end
end
local xs = {}
for i = 1, #bs do
  local x, vx, n, alive = bs[i].x, bs[i].vx, bs[i].n, bs[i].alive
  xs[#xs + 1] = string.format("%.3f/%.2f/%d/%s", x, vx, n, tostring(alive))
end
print(table.concat(xs, " "))
print(bounce({ x = -3.0, vx = 1.0, n = 5, alive = true }, 10.0, true))
local q = { x = 20.0, vx = 2.0, n = 2, alive = true }
print(bounce(q, 10.0, true))
print(q.extra12, q.x)
