-- Shifts and bitwise not in compiled code: register and constant counts,
-- counts of 64 or more either way, negative counts, floats with an exact
-- integer value, errors, and a count or operand changing type mid-loop.

local function shl(x, n) return x << n end
local function shr(x, n) return x >> n end

local counts = { 0, 1, 2, 31, 32, 63, 64, 65, 100, -1, -2, -63, -64, -65, -100,
  math.maxinteger, math.mininteger, math.mininteger + 1 }
local values = { 0, 1, -1, 5, -5, 0x7fff, math.maxinteger, math.mininteger, 0x123456789abcdef }

-- Warm both functions on integers, then sweep every pair.
local acc = 0
for i = 1, 3000 do
  acc = acc ~ shl(i, i % 70) ~ shr(-i, i % 70 - 35)
end
print("warm", acc)
for _, v in ipairs(values) do
  local row = {}
  for _, n in ipairs(counts) do
    row[#row + 1] = string.format("%x/%x", shl(v, n), shr(v, n))
  end
  print(v, table.concat(row, " "))
end

-- Constant counts, every range.
local function consts(x)
  return x << 0, x << 3, x << 63, x << 64, x << -3, x << -64,
    x >> 0, x >> 3, x >> 63, x >> 64, x >> -3, x >> -64, x >> 200, x << -200
end
for i = 1, 500 do consts(i) end
print(consts(-12345))
print(consts(1))

-- Floats with an exact integer value shift like integers; others fail.
print(shl(3.0, 2), shr(256.0, 4.0), shl(1, 3.0))
print(pcall(shl, 1.5, 1))
print(pcall(shr, 8, 0.5))
print(pcall(shl, "8", 1))
print(pcall(shr, {}, 1))
print(pcall(shl, 1, nil))

-- A loop whose count turns into a float, then into a string with a
-- metamethod-free error, mid-run.
local function sweep(n, mk)
  local s = 0
  for i = 1, n do
    s = s + (i << mk(i)) + (s >> 7)
  end
  return s
end
print(sweep(2000, function(i) return i % 13 end))
print(sweep(2000, function(i) if i > 1500 then return (i % 13) + 0.0 end return i % 13 end))
print(pcall(sweep, 2000, function(i) if i > 1900 then return 0.25 end return 3 end))

-- Bitwise not of known integers (unboxed in tier 2), of floats and of
-- bad operands.
local function nots(a, b, n)
  local s = 0
  for i = 1, n do
    local m = ~(a | b | i)
    s = s ~ m ~ ~i
  end
  return s
end
for _ = 1, 30 do nots(0x0f0f, 0x3300, 200) end
print(nots(0x0f0f, 0x3300, 1000), nots(-1, 0, 10))
local function bnot(x) return ~x end
for i = 1, 2000 do bnot(i) end
print(bnot(0), bnot(-1), bnot(math.mininteger), bnot(7.0))
print(pcall(bnot, 7.5))
print(pcall(bnot, "7"))
print(pcall(nots, 1.5, 2, 3))

-- Metamethods on shifts still run.
local mt = { __shl = function(a, b) return "shl" end, __shr = function(a, b) return "shr" end,
  __bnot = function(a) return "bnot" end }
local obj = setmetatable({}, mt)
print(shl(obj, 1), shr(1, obj), bnot(obj))

-- A xorshift generator and a bit count by shifts: shifts by constants and
-- registers feeding xor, and, or in loops.
local function xorshift(seed, n)
  local x, acc = seed, 0
  for _ = 1, n do
    x = x ~ (x << 13)
    x = x ~ (x >> 7)
    x = x ~ (x << 17)
    acc = acc ~ (x >> (x & 31))
  end
  return x, acc
end
local function popcount(v)
  local c, s = 0, 0
  while s < 64 do
    c = c + ((v >> s) & 1)
    s = s + 1
  end
  return c
end
for i = 1, 50 do xorshift(i, 40) end
local x, acc = xorshift(88172645463325252, 1000)
print(x, acc, popcount(x), popcount(-1), popcount(0), popcount(math.mininteger))
