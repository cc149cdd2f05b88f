-- Tier 2 speculates that table reads and writes with integer keys hit the
-- array part; every way that can stop being true must give lua5.4's result.

local function sum(t, lo, hi)
  local s = 0
  for i = lo, hi do s = s + t[i] end
  return s
end

local function scale(t, n, k)
  for i = 1, n do t[i] = t[i] * k end
  return t
end

local function ints(n)
  local t = {}
  for i = 1, n do t[i] = i end
  return t
end

-- warm up on plain integer arrays
local total = 0
for _ = 1, 400 do total = total + sum(ints(50), 1, 50) end
print("warm", total)

-- the element type changes: floats, then a mix
local f = {}
for i = 1, 50 do f[i] = i + 0.25 end
print("floats", sum(f, 1, 50))
f[25] = 7
print("mixed", sum(f, 1, 50))

-- keys only in the hash part (no key 1, so nothing migrates)
local h = {}
for i = 50, 2, -1 do h[i] = i end
print("hash", sum(h, 2, 50))

-- a hole, then a metatable that fills it
local holes = ints(50)
holes[30] = nil
print("hole", pcall(sum, holes, 1, 50))
setmetatable(holes, { __index = function(_, k) return k * 100 end })
print("index", sum(holes, 1, 50))

-- out of range keys: zero, negative, past the end, with __index
local edge = setmetatable(ints(10), { __index = function(_, k) return -k end })
print("edge", sum(edge, -2, 12))

-- strings that convert in arithmetic
local strs = ints(10)
strs[4] = "40"
print("strings", sum(strs, 1, 10))

-- not a table at all
print("not a table", pcall(sum, "abc", 1, 2))
print("userdata-like", pcall(sum, print, 1, 2))

-- writes: warm up, then appends, holes and __newindex
for _ = 1, 400 do scale(ints(40), 40, 2) end
local grow = ints(5)
print("short", pcall(scale, grow, 8, 3))
local hole_w = ints(10)
hole_w[5] = nil
print("write hole", pcall(scale, hole_w, 10, 2))
local function put(t, n)
  for i = 1, n do t[i] = -i end
  return t
end
for _ = 1, 400 do put(ints(40), 40) end
local logged = {}
local proxy = setmetatable(ints(6), { __newindex = function(t, k, v) logged[#logged + 1] = k; rawset(t, k, v) end })
proxy[3] = nil
put(proxy, 8)
print("newindex", table.concat(logged, ","), proxy[3], proxy[8], #proxy)
local fl = scale(ints(10), 10, 0.5)
print("float scale", fl[1], fl[10], math.type(fl[3]))

-- float keys with integer values address the array part too
local byfloat = ints(10)
local s = 0
for i = 1, 10 do s = s + byfloat[i + 0.0] end
print("float keys", s)

-- the array grows and shrinks while a hot loop keeps reading it
local dyn = ints(20)
local acc = 0
for round = 1, 300 do
  if round % 50 == 0 then dyn[#dyn] = nil end
  if round % 70 == 0 then dyn[#dyn + 1] = round end
  acc = acc + sum(dyn, 1, #dyn)
end
print("dynamic", acc, #dyn)
