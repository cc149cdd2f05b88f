-- The frame push and the common return that compiled code writes out
-- inline: each block below either takes them or must be turned away to the
-- general path at the right moment, with the frames looking exactly as the
-- interpreter would leave them.

-- error levels read the caller's saved pc: the line must be the call's
local function check(x) if type(x) ~= "number" then error("not a number: " .. tostring(x), 2) end return x end
local function caller(v)
  local a = check(1)
  local b = check(v) -- the line level 2 points at
  return a + b
end
for i = 1, 300 do caller(i) end
print("level2", pcall(caller, "x"))
print("level2 again", pcall(caller, nil))

-- recursion deep enough to outgrow the frame vector and the stack several
-- times while compiled code is pushing frames
local function down(n) if n == 0 then return 0 end return down(n - 1) + 1 end
print("deep", down(100), down(5000), down(20000), down(7))

-- mutual recursion, both directions inline
local is_even, is_odd
function is_even(n) if n == 0 then return true end return is_odd(n - 1) end
function is_odd(n) if n == 0 then return false end return is_even(n - 1) end
local evens = 0
for i = 1, 400 do if is_even(i) then evens = evens + 1 end end
print("mutual", evens, is_odd(999))

-- one to six results, wanted exactly, the same count inline and past the
-- inline limit
local function r1(x) return x end
local function r2(x) return x, x * 2 end
local function r4(x) return x, x + 1, x + 2, x + 3 end
local function r5(x) return x, x + 1, x + 2, x + 3, x + 4 end
local function r6(x) return x, -x, x, -x, x, "six" end
local sum = 0
for i = 1, 500 do
  local a = r1(i)
  local b, c = r2(i)
  local d, e, f, g = r4(i)
  local h, j, k, l, m = r5(i)
  local n, o, p, q, r, s = r6(i)
  sum = sum + a + b + c + d + e + f + g + h + j + k + l + m + n + o + p + q + r + #s
end
print("results", sum)

-- results over the function slot itself: `return a, b, c` from the first
-- registers lands where the function value was
local function swap3(a, b, c) return c, a, b end
local x, y, z = 1, 2, 3
for _ = 1, 301 do x, y, z = swap3(x, y, z) end
print("overlap", x, y, z)

-- a callee redefined, and a callee turning into a native, mid-loop
local function f(v) return v + 1 end
local g = f
local acc = 0
for i = 1, 900 do
  if i == 300 then g = function(v) return v * 2 end end
  if i == 600 then g = math.abs end
  acc = acc + g(i - 450)
end
print("retarget", acc)

-- the same site calling many prototypes (megamorphic feedback)
local fs = {}
for i = 1, 8 do fs[i] = load("return function(v) return v + " .. i .. " end")() end
local mm = 0
for i = 1, 2000 do mm = mm + fs[i % 8 + 1](i) end
print("megamorphic", mm)

-- fresh closures of one prototype at one site
local cs = 0
for i = 1, 600 do
  local k = i % 7
  local add = function(v) return v + k end
  cs = cs + add(i)
end
print("fresh closures", cs)

-- a callee that captures its own locals: the return must close them
local function capture(v)
  local w = v * 3
  local get = function() return w end
  w = w + 1
  return get
end
local gs = 0
for i = 1, 400 do gs = gs + capture(i)() end
print("captured", gs)

-- a callee that captures a local of the caller's frame (an open upvalue
-- below the callee's base must not stop the common return)
local outer = 0
local function bump(v) outer = outer + v; return outer end
local bs = 0
for i = 1, 500 do bs = bs + bump(i) end
print("open below", outer, bs)

-- pcall around compiled callees, nested: protected depth is inherited
local function thrower(n) if n % 5 == 0 then error({ code = n }) end return n end
local function relay(n) return thrower(n) + 1 end
local okc, errc = 0, 0
for i = 1, 500 do
  local ok, v = pcall(relay, i)
  if ok then okc = okc + v else errc = errc + v.code end
end
local function nest(n) if n == 0 then return relay(5) end return select(2, pcall(nest, n - 1)) end
print("pcall", okc, errc, type(nest(20)), nest(20).code)

-- multiple results into a caller that takes them all
local function spread(n) return n, n + 1, n + 2 end
local function count(...) return select("#", ...) end
local all = 0
for i = 1, 300 do all = all + count(spread(i)) + #{ spread(i) } end
print("multret", all)

-- a call whose argument count does not match the parameters, both ways
local function two(a, b) return (a or 0) + (b or 100) end
local ts = 0
for i = 1, 300 do ts = ts + two(i) + two(i, i) + two(i, i, i) end
print("arity", ts)

-- an error inside a callee several inline frames deep, uncaught below
-- pcall, with the message naming the right line
local function l3(v) return v.field end
local function l2(v) return l3(v) + 1 end
local function l1(v) return l2(v) * 2 end
for i = 1, 300 do l1({ field = i }) end
print("deep error", pcall(l1, 5))
