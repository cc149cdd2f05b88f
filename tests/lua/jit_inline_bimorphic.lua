-- A call site that alternates between two small Lua functions gets both
-- compiled inline at tier 2, each behind a test of the prototype. Every
-- way out of either copy must behave as the real call would: results cut
-- or padded, a third callee arriving late, errors with their positions,
-- type changes inside one callee, callees redefined between rounds.

local function double(x) return x * 2 end
local function bump(x) return x + 1 end
local function pair(x) return x, -x end
local function none(x) local _ = x end
local function thirds(x) return x / 3 end

-- Two callees, alternating: both inlined.
local function apply_all(fs, n, x)
  for i = 1, n do
    x = fs[(i % 2) + 1](x)
  end
  return x
end

local acc = 0
for round = 1, 400 do
  acc = (acc + apply_all({ double, bump }, 10, round)) % 1000003
end
print("alternating", acc)

-- One callee returns two values, the other none: the site wants one.
local function first_of(fs, v)
  local out = {}
  for i = 1, #fs do
    local r = fs[i](v)
    out[#out + 1] = tostring(r)
  end
  return table.concat(out, ",")
end

local seen = {}
for round = 1, 300 do
  local s = first_of({ pair, none }, round)
  if round % 100 == 0 then seen[#seen + 1] = s end
end
print("results", table.concat(seen, " "))

-- A third callee shows up after both were inlined: the site deoptimizes
-- and the interpreter makes the call.
local fs = { double, bump }
local total = 0
for round = 1, 600 do
  if round == 500 then fs[2] = thirds end
  total = total + apply_all(fs, 4, round)
end
print("third callee", string.format("%.6f", total))

-- An integer turns into a float inside one inlined copy only.
local mixed = 0
for round = 1, 600 do
  local start = round
  if round > 450 then start = round + 0.5 end
  mixed = mixed + apply_all({ double, bump }, 6, start)
end
print("int to float", mixed)

-- An error raised inside the second inlined callee, caught and reported
-- with its position.
local function boom(x)
  if x > 1000 then error("too big: " .. x) end
  return x + 1
end
local caught
for round = 1, 400 do
  local ok, err = pcall(apply_all, { double, boom }, 8, round)
  if not ok then
    caught = err
    break
  end
end
print("error", caught)

-- A field error in an inlined callee (indexing a number) reports the
-- callee's line.
local function field(x) return x.count end
local function plain(x) return x end
local ok, err = pcall(function()
  for round = 1, 400 do
    local fns = { plain, field }
    local arg = round < 350 and { count = round } or round
    apply_all(fns, 2, arg)
  end
end)
print("field error", ok, err)

-- Callees redefined between rounds: new prototypes miss both tests.
local results = {}
for round = 1, 3 do
  local k = round * 10
  local add = function(x) return x + k end
  local mul = function(x) return x * k end
  local s = 0
  for i = 1, 300 do s = s + apply_all({ add, mul }, 2, i) end
  results[#results + 1] = s
end
print("redefined", table.concat(results, " "))
