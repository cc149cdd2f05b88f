-- Tier 2 inlines small callees at call sites that always saw them. Each
-- part below gets a site hot with one callee, then breaks an assumption
-- the inlined copy rests on. Results must not change.

-- A global callee redefined: the guard on the callee fails at the call.
function scale(x) return x * 3 end
local function sum_scaled(n)
  local s = 0
  for i = 1, n do s = s + scale(i) end
  return s
end
for _ = 1, 6 do sum_scaled(3000) end
print("scaled", sum_scaled(3000))
scale = function(x) return x * 4 end
print("redefined", sum_scaled(3000))
scale = math.abs
print("native", sum_scaled(100))
scale = setmetatable({}, { __call = function(_, x) return x + 1 end })
print("callable", sum_scaled(100))
scale = nil
print("nil callee", pcall(sum_scaled, 5))
scale = function(x) return x * 3 end
print("back", sum_scaled(3000))

-- A callee whose operands change type under the inlined copy.
local function half(x) return x / 2 + x * 2 end
local function sum_half(n, step)
  local s = 0
  for i = 1, n do s = s + half(i * step) end
  return s
end
for _ = 1, 6 do sum_half(3000, 1) end
print("ints", sum_half(3000, 1))
print("floats", sum_half(3000, 0.5))
print("ints again", sum_half(3000, 1))
print("strings", pcall(sum_half, 3, "x"))
print("string numbers", sum_half(3, "2"))

-- Upvalues of the callee, changed by another function.
local k = 3
local function times_k(x) return x * k end
local function set_k(v) k = v end
local function sum_k(n)
  local s = 0
  for i = 1, n do s = s + times_k(i) end
  return s
end
for _ = 1, 6 do sum_k(3000) end
print("k=3", sum_k(3000))
set_k(0.5)
print("k=0.5", sum_k(3000))
set_k(7)
print("k=7", sum_k(3000))

-- Fewer or more results than the caller wants.
local function two(x) return x, x + 1 end
local function one(x) return x * 2 end
local function none(x) local _ = x end
local function results(n)
  local s = 0
  for i = 1, n do
    local a, b, c = two(i)
    local d, e = one(i)
    local f = none(i)
    s = s + a + b + (c == nil and 1 or 100) + d + (e == nil and 1 or 100) + (f == nil and 1 or 100)
  end
  return s
end
print("results", results(3000))

-- Recursion: the callee is the caller itself.
local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end
print("fib", fib(24))
local function count(t)
  if t.left == nil then return 1 end
  return count(t.left) + count(t.right) + 1
end
local function build(d)
  if d == 0 then return {} end
  return { left = build(d - 1), right = build(d - 1) }
end
print("tree", count(build(12)))

-- Errors inside the inlined callee: position and message are the callee's.
local function checked(x)
  if x > 2500 then error("too big: " .. x) end
  return x + 1
end
local function sum_checked(n)
  local s = 0
  for i = 1, n do s = s + checked(i) end
  return s
end
for _ = 1, 6 do sum_checked(2000) end
print("checked", sum_checked(2000))
print("checked error", pcall(sum_checked, 3000))
local function index_it(t) return t.x + 1 end
local function sum_index(ts)
  local s = 0
  for i = 1, #ts do s = s + index_it(ts[i]) end
  return s
end
local ts = {}
for i = 1, 3000 do ts[i] = { x = i } end
for _ = 1, 6 do sum_index(ts) end
print("index", sum_index(ts))
ts[1500] = false
print("index error", pcall(sum_index, ts))

-- Deep recursion through inlined calls still overflows the same way.
local function depth(n) if n == 0 then return 0 end return 1 + depth(n - 1) end
print("depth", depth(5000))
local ok, msg = pcall(depth, 1e7)
print("overflow", ok, string.find(msg, "stack overflow") ~= nil)

-- A callee with native calls of its own.
local function digits(x)
  return #tostring(x) + #string.format("%d", x // 10)
end
local function sum_digits(n)
  local s = 0
  for i = 1, n do s = s + digits(i) end
  return s
end
print("digits", sum_digits(3000))

-- A method call site (self) with one receiver class, then another.
local Point = {}
Point.__index = Point
function Point.norm1(p) return p.x + p.y end
local Other = { norm1 = function(p) return p.x * p.y end }
Other.__index = Other
local function sum_norms(ps)
  local s = 0
  for i = 1, #ps do s = s + ps[i]:norm1() end
  return s
end
local ps = {}
for i = 1, 3000 do ps[i] = setmetatable({ x = i, y = 2 }, Point) end
for _ = 1, 6 do sum_norms(ps) end
print("points", sum_norms(ps))
ps[2999] = setmetatable({ x = 5, y = 5 }, Other)
print("mixed", sum_norms(ps))
