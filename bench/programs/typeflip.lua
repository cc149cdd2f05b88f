-- bench: type-flipping: hot functions see integers, then floats, then numeric strings, then a mix (deopt stress)
-- luajit: no (depends on integer/float subtypes: math.type, integer-preserving arithmetic, string->integer coercion)
local PHASE = 1500000

local function combine(a, b)
  return a * 3 + b - a % 7
end

local function poly(x)
  return (x * x - 2 * x + 1) % 10007
end

local function kernel(a, b)
  local s = combine(a, b) + poly(a)
  if a < b then s = s + 1 else s = s - 1 end
  return s % 1000003
end

-- an object whose field changes type over time
local cell = { v = 0 }
local function bump(c, d)
  c.v = c.v + d
  return c.v
end

local type_counts = { integer = 0, float = 0 }
local function note(x)
  local t = math.type(x)
  type_counts[t] = type_counts[t] + 1
end

local results = {}

-- phase 1: integers only
local acc = 0
for i = 1, PHASE do
  local r = kernel(i, i % 13)
  acc = (acc + r) % 1000000007
  bump(cell, 1)
  if i % 1000 == 0 then note(r) end
end
results[#results + 1] = string.format("int:%d:%s", acc, math.type(acc))

-- phase 2: floats only
local facc = 0.0
for i = 1, PHASE do
  local r = kernel(i + 0.5, (i % 13) * 0.25)
  facc = (facc + r) % 1000000007
  bump(cell, 0.5)
  if i % 1000 == 0 then note(r) end
end
results[#results + 1] = string.format("float:%.4f:%s", facc, math.type(facc))

-- phase 3: numeric strings, coerced by arithmetic (integers stay integers)
local sacc = 0
local bad = 0
local strs = {}
for i = 1, 97 do strs[i] = tostring(i * 11) end
for i = 1, PHASE do
  local a = strs[i % 97 + 1]
  local r = combine(a, "5") + poly(a)
  sacc = (sacc + r) % 1000000007
  if i % 1000 == 0 then
    note(r)
    -- a non-numeric string must raise an error
    local ok = pcall(combine, "x" .. a, 1)
    if not ok then bad = bad + 1 end
  end
end
results[#results + 1] = string.format("str:%d:%s:bad=%d", sacc, math.type(sacc), bad)

-- phase 4: every call site sees a different type each iteration
local macc = 0
local mixed = { 7, 2.5, "12", 40, "3.25", 1e3, -9, "-4" }
for i = 1, PHASE do
  local a = mixed[i % 8 + 1]
  local b = mixed[(i * 3) % 8 + 1]
  local r = combine(a, b) + poly(a)
  if i % 1000 == 0 then note(r) end
  macc = (macc + r) % 1000000007
  -- the field flips between integer and float
  if i % 2 == 0 then bump(cell, 1) else bump(cell, 0.25) end
end
results[#results + 1] = string.format("mixed:%.4f:%s", macc, math.type(macc))

-- phase 5: back to integers, the hot path must recover
local acc2 = 0
for i = 1, PHASE do
  acc2 = (acc2 + kernel(i, 3)) % 1000000007
end
results[#results + 1] = string.format("int2:%d:%s", acc2, math.type(acc2))

-- string comparison through the same kernel: a < b on strings is lexicographic
local cmp = 0
for i = 1, 2000 do
  if ("a" .. i) < ("a" .. (2000 - i)) then cmp = cmp + 1 end
end

print(table.concat(results, " "))
print(string.format("cell=%.2f %s ints=%d floats=%d cmp=%d", cell.v, math.type(cell.v),
  type_counts.integer, type_counts.float, cmp))
