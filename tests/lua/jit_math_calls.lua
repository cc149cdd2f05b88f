-- Tier 2 computes math.sqrt/floor/ceil/abs/sin/cos/tan/exp in place of
-- the call, guarded on the callee being that very native. Every edge case
-- must match lua5.4: integer and float arguments, -0.0, huge floats that
-- floor cannot make integers, NaN and infinities, the minimum integer,
-- a rebound math.sqrt, a non-number argument.
local function f(n, x0, step)
  local s, k = 0.0, 0
  local x = x0
  for _ = 1, n do
    s = s + math.sqrt(x) + math.sin(x) * math.cos(x) + math.tan(x * 0.001) + math.exp(-x * 1e-3)
    k = k + math.floor(x / 3) + math.ceil(x / 7) + math.abs(k % 5 - 2)
    s = s + math.abs(x * -0.5)
    x = x + step
  end
  return s, k
end
local s, k = f(20000, 1, 1)
print(string.format("%.6f", s), k)
s, k = f(20000, 0.5, 0.25)
print(string.format("%.6f", s), k, math.type(k))

local function edges(v)
  return math.floor(v), math.ceil(v), math.abs(v), math.sqrt(math.abs(v))
end
local out = {}
for i = 1, 10000 do
  local a = edges(i * 0.5)
  out[#out + 1] = a
end
print(#out, out[10000])
for _, v in ipairs({ -0.0, 0.0, 1e300, -1e300, 2^63, -2^63, 1/0, -1/0, math.maxinteger, math.mininteger, -7, 7.5, -7.5 }) do
  print(edges(v))
end
print(edges(0/0) ~= edges(0/0))

-- a hot loop whose argument turns into a string, then into nil
local function roots(t)
  local s = 0.0
  for i = 1, #t do s = s + math.sqrt(t[i]) end
  return s
end
local t = {}
for i = 1, 4000 do t[i] = i end
for _ = 1, 20 do roots(t) end
t[100] = "16"
print(string.format("%.6f", roots(t)))
t[200] = {}
print(pcall(roots, t))

-- math.sqrt rebound mid-run: the guard on the native sees it
local function calls(n)
  local s = 0
  for i = 1, n do s = s + math.sqrt(i) end
  return s
end
for _ = 1, 30 do calls(1000) end
local real = math.sqrt
math.sqrt = function(x) return 1 end
print(calls(1000))
math.sqrt = real
print(string.format("%.6f", calls(1000)))
-- a local alias and a field named like a math function
local sqrt = math.sqrt
local fake = { sqrt = function(x) return -x end }
local acc = 0
for i = 1, 30000 do acc = acc + sqrt(i) + fake.sqrt(i) end
print(string.format("%.6f", acc))
