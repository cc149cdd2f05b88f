-- Tier 2 inlines small callees and writes their frame only where the
-- inlined code first calls out. Everything that looks at frames must see
-- the callee's frame exactly as a real call makes it: error positions and
-- variable names, tracebacks through pcall and error(), the collector
-- (allocation inside the callee), deopts inside the callee, natives
-- called from it, a callee that returns before calling anything, and a
-- callee whose first call out is not on every path.

-- Returns early without calling anything, or calls out later.
local function leaf_or_call(n, t)
  if n < 3 then return n end
  t[#t + 1] = n          -- a table append: a helper may run
  return tostring(n)     -- a native call
end

-- Raises an error from inlined code, on one path only.
local function checked(x, limit)
  if x > limit then
    error("over the limit: " .. x)
  end
  return x * 2
end

-- Arithmetic on a non-number from inside inlined code.
local function add_field(r)
  return r.v + 1
end

-- Allocates in inlined code (the collector runs with the frame there).
local function pair(a, b)
  return { a, b }
end

-- Calls a math native first (computed in place), then a real call.
local function floor_then_call(v, f)
  local x = math.floor(v)
  return f(x) + math.ceil(v)
end

local function double(x) return x + x end

local function caller(n)
  local acc, t = 0, {}
  for i = 1, n do
    local v = leaf_or_call(i % 5, t)
    acc = acc + (tonumber(v) or 0)
    acc = acc + checked(i % 7, 100)
    local p = pair(i, acc)
    acc = acc + p[1] - p[2] + floor_then_call(i * 0.5, double)
  end
  return acc, #t
end

for _ = 1, 30 do caller(300) end
print("warm", caller(300))

-- The error raised in the inlined `checked` names its line; pcall catches it.
local function call_checked(x) return checked(x, 10) end
for i = 1, 3000 do call_checked(i % 10) end
print(pcall(call_checked, 11))
print(select(2, pcall(call_checked, 12)):match("^[^:]+:%d+:") ~= nil)

-- An arithmetic error inside inlined code names the field.
local function sum_fields(rs)
  local s = 0
  for i = 1, #rs do s = s + add_field(rs[i]) end
  return s
end
local rs = {}
for i = 1, 200 do rs[i] = { v = i } end
for _ = 1, 50 do sum_fields(rs) end
rs[150] = { v = "x" }   -- a string that cannot be a number
print(pcall(sum_fields, rs))
rs[150] = { v = "41" }  -- a string that can
print(pcall(sum_fields, rs))
rs[150] = {}            -- nil
local ok, msg = pcall(sum_fields, rs)
print(ok, msg)

-- error() at level 2 from an inlined callee names its caller's line.
local function must_be_small(i) if i > 2990 then error("too big: " .. i, 2) end return i end
local function sweep(n)
  local s = 0
  for i = 1, n do
    s = s + must_be_small(i)
  end
  return s
end
for _ = 1, 20 do sweep(2900) end
print(pcall(sweep, 3000))

-- A deopt inside the inlined callee (an int that becomes a float).
local function scale(x) return x * 3 end
local s = 0
for i = 1, 5000 do
  local x = i
  if i > 4000 then x = i + 0.5 end
  s = s + scale(x)
end
print(s)

-- Deep recursion through an inlined call still overflows the same way.
local function deep(n) return deep(n + 1) + 1 end
local ok2, err2 = pcall(deep, 1)
print(ok2, (err2:gsub("^.-:%d+: ", "")))

-- Garbage made in inlined code while the collector runs often.
collectgarbage("setpause", 50)
local keep = {}
for i = 1, 20000 do
  local p = pair(i, tostring(i))
  if i % 1000 == 0 then keep[#keep + 1] = p end
end
local total = 0
for _, p in ipairs(keep) do total = total + p[1] + #p[2] end
print(#keep, total)
