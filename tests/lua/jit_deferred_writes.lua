-- Tier 2 keeps numbers in machine registers inside loops and writes them
-- to the Lua register file only on the way out (a deopt, a call, an
-- error, the loop's exit). Every way out must see exactly what lua5.4
-- sees; each section runs hot, then leaves its loop a different way.

-- many loop-carried numbers, and an element that turns float mid-loop
-- (the array guard deopts with all of them still in machine registers)
local function moments(t, n)
  local s, s2, mn, mx, cnt = 0, 0, t[1], t[1], 0
  for i = 1, n do
    local x = t[i]
    s = s + x
    s2 = s2 + x * x
    if x < mn then mn = x end
    if x > mx then mx = x end
    cnt = cnt + 1
  end
  return s, s2, mn, mx, cnt
end
local ints = {}
for i = 1, 200 do ints[i] = (i * 37) % 101 - 50 end
local acc = 0
for _ = 1, 200 do acc = acc + moments(ints, 200) end
print("moments", acc, moments(ints, 200))
local mixed = {}
for i = 1, 200 do mixed[i] = ints[i] end
mixed[150] = 0.5
print("moments float at 150", moments(mixed, 200))
mixed[150] = "7"
print("moments string at 150", pcall(moments, mixed, 200))
mixed[150] = nil
print("moments hole at 150", pcall(moments, mixed, 200))

-- break out of a loop, then use everything it computed
local function first_over(t, limit)
  local sum, idx, last = 0, 0, 0.0
  for i = 1, #t do
    sum = sum + t[i]
    last = t[i] * 0.5
    idx = i
    if sum > limit then break end
  end
  return sum, idx, last
end
local r = 0
for _ = 1, 300 do r = r + first_over(ints, 100) end
print("first_over", r, first_over(ints, 100), first_over(ints, 1e9))

-- a while loop of float arithmetic, leaving by its condition
local function newton(x)
  local g, it = x / 2, 0
  while math.abs(g * g - x) > 1e-12 and it < 100 do
    g = (g + x / g) / 2
    it = it + 1
  end
  return g, it
end
local ns = 0
for i = 1, 300 do ns = ns + newton(i + 0.0) end
print("newton", string.format("%.10f", ns), newton(2.0))

-- integer wrap-around inside a loop, and a loop variable copied out
local function wrap(n)
  local x, y = math.maxinteger - n, 0
  for i = 1, 2 * n do
    x = x + 1
    y = i
  end
  return x, y, x == math.mininteger + n - 1
end
for _ = 1, 300 do wrap(5) end
print("wrap", wrap(5))

-- an inner loop of arithmetic inside an outer loop that calls out
local function table_of_sums(n)
  local out = {}
  for i = 1, n do
    local s = 0
    for j = 1, i do s = s + j * j end
    out[#out + 1] = tostring(s)
  end
  return table.concat(out, ",")
end
for _ = 1, 50 do table_of_sums(20) end
print("sums", table_of_sums(12))

-- long enough for many tick slices inside one loop
local function spin(n)
  local a, b = 0, 1
  for _ = 1, n do
    a, b = b, (a + b) % 1000003
  end
  return a, b
end
print("spin", spin(2000000))

-- a register that changes type inside the loop stays in memory
local function flip(n)
  local v = 0
  local total = 0.0
  for i = 1, n do
    if i % 3 == 0 then v = i / 2 else v = i end
    total = total + v
  end
  return v, total
end
for _ = 1, 200 do flip(30) end
print("flip", flip(31))

-- a captured loop-carried value (a closure reads it as the loop runs)
local function watched(n)
  local s = 0
  local seen = {}
  local function look() seen[#seen + 1] = s end
  for i = 1, n do
    s = s + i
    if i % 4 == 0 then look() end
  end
  return s, table.concat(seen, " ")
end
for _ = 1, 100 do watched(12) end
print("watched", watched(12))

-- an error inside a hot loop names the variable, with everything before it
-- still right in the caller
local function divide_all(t, d)
  local q = 0
  for i = 1, #t do q = q + t[i] // d end
  return q
end
for _ = 1, 300 do divide_all(ints, 3) end
print("divide", divide_all(ints, 3), pcall(divide_all, ints, 0))
print("divide float", divide_all(ints, 2.5))

-- garbage made inside a loop of deferred numbers
local function churn(n)
  local s, keep = 0, nil
  for i = 1, n do
    local t = { i, i * 2 }
    s = s + t[1] + t[2]
    if i % 100 == 0 then keep = t end
  end
  return s, keep[1], keep[2]
end
print("churn", churn(5000))
