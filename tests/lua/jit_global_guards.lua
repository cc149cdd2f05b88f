-- Tier 2 reads and writes globals at the hash slot tier 1 found them in,
-- guarded (GlobalBinding). Each part gets a loop hot on one global, then
-- moves it, removes it or changes its type. Results must not change.

counter = 0
local function bump(n)
  for _ = 1, n do counter = counter + 1 end
  return counter
end
for _ = 1, 6 do bump(1000) end
print("counter", bump(1000))
counter = 0.5
print("float counter", bump(1000))
counter = 0
-- Many new globals: the table grows and its keys move to other slots.
for i = 1, 200 do _G["filler" .. i] = i end
print("after rehash", bump(1000))
for i = 1, 200 do _G["filler" .. i] = nil end
print("after removal", bump(1000))

-- A global read in a loop that becomes nil, with __index on _G.
rate = 3
local function total(n)
  local s = 0
  for i = 1, n do s = s + rate * i end
  return s
end
for _ = 1, 6 do total(500) end
print("rate", total(500))
rate = nil
setmetatable(_G, { __index = function(_, k) if k == "rate" then return 2 end end })
print("rate from __index", total(500))
rate = 4
print("rate back", total(500))
setmetatable(_G, nil)

-- __newindex on _G: a present key is written in place, a missing one is not.
seen = 0
local function write_seen(n)
  for i = 1, n do seen = i end
  return seen
end
for _ = 1, 6 do write_seen(500) end
local hits = 0
setmetatable(_G, { __newindex = function(t, k, v) hits = hits + 1; rawset(t, k, v) end })
print("present", write_seen(500), hits)
seen = nil
print("missing", write_seen(500), hits)
setmetatable(_G, nil)

-- _G as the __index of another table: writes must reach lookups through it.
level = 1
local child = setmetatable({}, { __index = _G })
local function raise(n)
  for _ = 1, n do level = level + 1 end
  return level
end
for _ = 1, 6 do raise(500) end
print("child before", child.level)
print("raise", raise(500), child.level)

-- A global holding a function, called from a hot loop, then replaced.
function step(x) return x + 1 end
local function run(n)
  local x = 0
  for _ = 1, n do x = step(x) end
  return x
end
for _ = 1, 6 do run(1000) end
print("step", run(1000))
step = function(x) return x + 2 end
print("step replaced", run(1000))
step = nil
print("step nil", pcall(run, 3))
