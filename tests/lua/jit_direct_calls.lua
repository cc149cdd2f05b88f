-- Lua-to-Lua calls from compiled code: the callee's code is entered
-- directly and its common returns are done without the interpreter. Each
-- block below leaves that common case in a different way.

-- fixed arguments and one result, deep enough to grow the stack
local function depth(n) if n == 0 then return 0 end return 1 + depth(n - 1) end
print("depth", depth(10), depth(3000))

-- missing arguments are nil, extra ones dropped
local function three(a, b, c) return tostring(a) .. tostring(b) .. tostring(c) end
local acc = {}
for i = 1, 300 do acc[#acc + 1] = three(i) .. three(i, i + 1) .. three(i, 2, 3, 4, 5) end
print("args", acc[1], acc[300])

-- the caller wants more results than the callee gives, and fewer
local function one(x) return x end
local function many(x) return x, x + 1, x + 2 end
local s = 0
for i = 1, 500 do
  local a, b, c = one(i)
  local d = many(i)
  local e, f, g, h = many(i)
  s = s + a + d + e + f + g + (b == nil and 1 or 0) + (c == nil and 1 or 0) + (h == nil and 1 or 0)
end
print("counts", s)

-- all results, into a table constructor and another call's arguments
local function pack(...) return select("#", ...), ... end
local t = { many(10) }
print("multret", #t, pack(many(1)))

-- a callee whose locals are captured: its upvalues close on return
local function counter(start)
  local n = start
  return function() n = n + 1; return n end
end
local total = 0
for i = 1, 400 do
  local c = counter(i)
  c()
  total = total + c()
end
print("closures", total)

-- varargs callees
local function sum(...)
  local r = 0
  for i = 1, select("#", ...) do r = r + (select(i, ...)) end
  return r
end
local vs = 0
for i = 1, 400 do vs = vs + sum(i, i, i) + sum() end
print("varargs", vs)

-- errors raised deep in compiled callees, caught in between
local function boom(n) if n == 0 then error("bottom reached") end return boom(n - 1) + 1 end
local function guarded(n)
  local ok, msg = pcall(boom, n)
  return ok, msg
end
for _, n in ipairs({ 0, 5, 70, 200 }) do print("pcall", n, guarded(n)) end

-- recursion past the depth compiled code nests natively
local function pair(n) if n == 0 then return 0, 0 end local a, b = pair(n - 1) return a + 1, b + 2 end
print("pair", pair(150))

-- tail calls inside a directly entered callee
local function loop(n, a) if n == 0 then return a end return loop(n - 1, a + n) end
local function wrap(n) return loop(n, 0) end
local ts = 0
for i = 1, 300 do ts = ts + wrap(i) end
print("tail", ts)

-- a callee whose types change late: its compiled code must give way
local function half(x) return x / 2 end
local function step(x) return x + 1 end
local hs = 0
for i = 1, 3000 do
  local v = i < 2500 and i or i + 0.5
  hs = hs + step(half(v))
end
print("types", hs)
local ok, err = pcall(step, "x")
print("type error", ok, err)

-- the callee is redefined while the caller keeps running
local function callee(x) return x * 2 end
local function caller(n) local r = 0 for i = 1, n do r = r + callee(i) end return r end
local before = caller(1000)
callee = function(x) return x * 3 end
print("redefined", before, caller(1000))
