-- Tier 2 writes t[k] = t[k] op x without re-checking the slot its read just
-- guarded (present, in bounds). Each case below breaks one reason that is
-- safe; every tier must print what lua5.4 prints.

local N = 400

-- the plain pattern, float and integer
local function accumulate(t, u, n)
  for i = 1, n do
    t[i] = t[i] + 2.5 * u[i]
  end
end
local a, b = {}, {}
for i = 1, N do a[i] = i * 0.5; b[i] = i end
for r = 1, 300 do accumulate(a, b, N) end
print("accumulate", a[1], a[N // 2], a[N])

-- constant keys, several slots of one table
local function counters(t, n)
  for i = 1, n do
    t[1] = t[1] + 1
    t[2] = t[2] + t[1]
    t[3] = -t[3]
  end
end
local c = { 0, 0, 7 }
for r = 1, 300 do counters(c, N) end
print("counters", c[1], c[2], c[3])

-- the same table under two registers: a nil written through one empties
-- the slot the other read, so the write after it must see __newindex.
-- Warmed up on a plain table (the feedback says array only), then given
-- one with a metatable.
local function alias(t, s, i, v)
  local x = t[i] + 1
  s[i] = v
  t[i] = x
end
local plain = {}
for i = 1, 8 do plain[i] = i end
for r = 1, 20000 do
  local i = r % 8 + 1
  alias(plain, plain, i, i)
end
local seen = 0
local mt = { __newindex = function(t, k, v) seen = seen + 1; rawset(t, k, v + 100) end }
local tbl = setmetatable({}, mt)
for i = 1, 8 do rawset(tbl, i, i) end
for r = 1, 400 do
  local i = r % 8 + 1
  local v = i
  if r % 5 == 0 then v = nil end
  alias(tbl, tbl, i, v)
  rawset(tbl, i, tbl[i] % 1000)
end
print("alias", seen, plain[1], plain[8], tbl[1], tbl[2], tbl[3], tbl[8])

-- a key register overwritten between the read and the write
local function shift(t, n)
  for i = 1, n - 1 do
    local j = i
    local x = t[j] * 0.5
    j = j + 1
    t[j] = x - t[j] * 0.25
  end
end
local s = {}
for i = 1, 50 do s[i] = i + 0.0 end
for r = 1, 2000 do shift(s, 50) end
print("shift", s[1], s[2], s[25], s[50])

-- the table register overwritten by its own element
local function descend(t, n)
  local total = 0
  for r = 1, n do
    local node = t
    for d = 1, 5 do
      local nxt = node[1]
      node[2] = node[2] + d
      node = nxt
    end
    total = total + node[2]
  end
  return total
end
local chain = { nil, 0 }
local cur = chain
for d = 1, 5 do local n = { nil, d }; cur[1] = n; cur = n end
print("descend", descend(chain, 20000), chain[2], chain[1][2])

-- swaps
local function reverse(t, n)
  local i, j = 1, n
  while i < j do
    t[i], t[j] = t[j], t[i]
    i, j = i + 1, j - 1
  end
end
local v = {}
for i = 1, 101 do v[i] = i * 3 end
for r = 1, 2001 do reverse(v, 101) end
print("reverse", v[1], v[2], v[51], v[101])

-- a runtime call in between (a metamethod on the arithmetic) may resize
-- the table: the write must check again
local grow = setmetatable({}, { __add = function(x, y)
  local t = x.t
  for k = #t + 1, #t + 64 do t[k] = k end
  return 1
end })
local function resize(t, obj, n)
  for i = 1, n do
    local x = t[i]
    local y = obj + x
    t[i] = x + y
  end
end
local rt = { 1, 2, 3, 4 }
grow.t = rt
resize(rt, grow, 4)
print("resize", #rt, rt[1], rt[4], rt[5], rt[#rt])

-- a nil written by the typed store itself, then a write through the slot
local function hole(t, n)
  local holes = 0
  for i = 1, n do
    local x = t[i]
    t[i] = nil
    t[i] = x
    if t[i] == nil then holes = holes + 1 end
  end
  return holes
end
local h = {}
for i = 1, 64 do h[i] = i end
local hs = 0
for r = 1, 2000 do hs = hs + hole(h, 64) end
print("hole", hs, h[1], h[64])
