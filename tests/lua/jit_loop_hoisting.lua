-- Loop-invariant checks hoisted out of loops (tier 2): registers a loop
-- never writes are checked once where the loop is entered. Each section
-- runs hot with one type, then changes the type of an invariant between
-- (or during) calls; every result must match lua5.4's.

-- numeric for: an invariant table and an invariant integer factor
local function scaled(t, n, k)
  local s = 0
  for i = 1, n do s = s + t[i] * k end
  return s
end
local ints = {}
for i = 1, 50 do ints[i] = i end
local acc = 0
for _ = 1, 300 do acc = acc + scaled(ints, 50, 3) end
print("scaled int", acc)
print("scaled float", scaled(ints, 50, 0.25))
print("scaled numeric string", scaled(ints, 50, "2"))
print("scaled bad string", pcall(scaled, ints, 50, "x"))
print("scaled not a table", pcall(scaled, 42, 50, 3))
print("scaled nil table", pcall(scaled, nil, 50, 3))
local floats = {}
for i = 1, 50 do floats[i] = i + 0.5 end
print("scaled float elements", scaled(floats, 50, 2))
local holey = setmetatable({}, { __index = function(_, i) return i * 100 end })
for i = 1, 25 do holey[i] = i end
print("scaled __index past the array", scaled(holey, 50, 1))
for _ = 1, 300 do acc = acc + scaled(ints, 50, 3) end
print("scaled int again", acc)

-- while loop: the header is a condition, entered by falling into it
local function count_below(t, limit)
  local i, c = 1, 0
  while t[i] < limit do
    c = c + 1
    i = i + 1
  end
  return c
end
local rising = {}
for i = 1, 60 do rising[i] = i * 2 end
rising[61] = 1e9
local c = 0
for _ = 1, 300 do c = c + count_below(rising, 100) end
print("while int", c)
print("while float limit", count_below(rising, 50.5))
print("while string limit", pcall(count_below, rising, "50"))
print("while table limit", pcall(count_below, rising, {}))

-- a loop that starts the function: its checks run on entry
local function drain(k, n)
  while n > k do
    n = n - 1
  end
  return n
end
local d = 0
for _ = 1, 400 do d = d + drain(3, 40) end
print("drain int", d)
print("drain float", drain(2.5, 40))
print("drain huge", drain(math.maxinteger, 40))
print("drain string", pcall(drain, "3", 40))

-- repeat-until, with the invariant used only in the condition
local function steps(x, stop)
  local n = 0
  repeat
    x = x + 1
    n = n + 1
  until x >= stop
  return n
end
local sn = 0
for _ = 1, 300 do sn = sn + steps(0, 30) end
print("repeat int", sn)
print("repeat float", steps(0, 29.5))
print("repeat mixed", steps(0.5, 10))

-- nested loops: the inner loop's invariant changes type in the middle of
-- the outer loop (its check fails at the inner header, mid-call)
local function grid(n, flip_at)
  local s = 0
  for i = 1, n do
    local k = i
    if i >= flip_at then k = i + 0.5 end
    for j = 1, n do
      s = s + j * k
    end
  end
  return s
end
local g = 0
for _ = 1, 60 do g = g + grid(20, 100) end
print("grid int", g)
print("grid flips", grid(20, 10))
print("grid flips at once", grid(20, 1))
for _ = 1, 60 do g = g + grid(20, 100) end
print("grid int again", g)

-- fields of an invariant table; then the field goes, moves, or the
-- object is a string (whose metatable answers `x` with nil)
local function sum_field(p, n)
  local s = 0
  for _ = 1, n do s = s + p.x + p.y end
  return s
end
local pt = { x = 2, y = 3 }
local f = 0
for _ = 1, 300 do f = f + sum_field(pt, 20) end
print("field int", f)
print("field float", sum_field({ x = 1.5, y = 2 }, 20))
print("field moved", sum_field({ a = 1, b = 2, c = 3, y = 4, x = 5 }, 20))
print("field inherited", sum_field(setmetatable({ y = 1 }, { __index = { x = 7 } }), 20))
print("field string", pcall(sum_field, "pt", 20))
print("field nil", pcall(sum_field, nil, 20))

-- an invariant captured by a closure the loop calls: never hoisted, the
-- closure changes it under the loop
local function captured(n)
  local k = 1
  local function bump() k = k + 0.5 end
  local s = 0
  for i = 1, n do
    s = s + i * k
    if i % 10 == 0 then bump() end
  end
  return s
end
local cs = 0
for _ = 1, 100 do cs = cs + captured(40) end
print("captured", cs)

-- one long call: the loop gets hot inside it (OSR at its header), then
-- an invariant changes type between two later loops of the same call
local function phases(n)
  local s = 0
  local k = 3
  for i = 1, n do s = s + i * k end
  k = 0.5
  for i = 1, n do s = s + i * k end
  k = "4"
  for i = 1, n do s = s + i * k end
  return s
end
print("phases", phases(200000))

-- a table invariant swapped for another table of the other kind of part
local function total(t, n)
  local s = 0
  for i = 1, n do s = s + t[i] end
  return s
end
local arr = {}
for i = 1, 30 do arr[i] = i end
local tt = 0
for _ = 1, 300 do tt = tt + total(arr, 30) end
print("total array", tt)
local hash = {}
for i = 30, 1, -1 do hash[i] = i * 2 end
print("total hash", total(hash, 30))
print("total short", pcall(total, { 1, 2, 3 }, 30))
