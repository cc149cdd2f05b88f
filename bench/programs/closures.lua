-- bench: closures: counters, shared upvalues, map/filter/reduce, composition, currying, varargs
-- luajit: yes
local ROUNDS = 9000
local SIZE = 1000

local function map(t, f)
  local r = {}
  for i = 1, #t do r[i] = f(t[i]) end
  return r
end

local function filter(t, p)
  local r = {}
  for i = 1, #t do
    local v = t[i]
    if p(v) then r[#r + 1] = v end
  end
  return r
end

local function reduce(t, f, init)
  local acc = init
  for i = 1, #t do acc = f(acc, t[i]) end
  return acc
end

local function compose(...)
  local fs = { ... }
  local n = select("#", ...)
  return function(x)
    for i = n, 1, -1 do x = fs[i](x) end
    return x
  end
end

local function make_counter(start, step)
  local count = start
  local function inc() count = count + step; return count end
  local function get() return count end
  local function reset() count = start end
  return inc, get, reset
end

local function curry3(f)
  return function(a)
    return function(b)
      return function(c) return f(a, b, c) end
    end
  end
end

local function sum_args(...)
  local s = 0
  for i = 1, select("#", ...) do
    s = s + (select(i, ...))
  end
  return s
end

local function pack_count(...)
  local t = { ... }
  return #t, t[1]
end

local base = {}
for i = 1, SIZE do base[i] = i end

local total = 0
local inc, get, reset = make_counter(0, 3)
for r = 1, ROUNDS do
  -- closures created per round, capturing r
  local scale = function(x) return x * (r % 5 + 1) end
  local offset = function(x) return x + r end
  local keep = function(x) return x % 3 ~= 0 end
  local f = compose(scale, offset)
  local mapped = map(base, f)
  local kept = filter(mapped, keep)
  local s = reduce(kept, function(a, b) return (a + b) % 1000003 end, 0)
  total = (total + s) % 1000003

  -- counter closures sharing one upvalue
  for i = 1, 200 do inc() end
  total = (total + get()) % 1000003
  if r % 70 == 0 then reset() end

  -- curried function applications
  local add3 = curry3(function(a, b, c) return a * 100 + b * 10 + c end)
  local partial = add3(r % 10)
  for i = 1, 50 do
    total = (total + partial(i % 10)(i % 7)) % 1000003
  end

  -- varargs
  total = (total + sum_args(r, 1, 2, 3, 4, 5, 6, 7, 8)) % 1000003
  local n, first = pack_count(r, r + 1, r + 2)
  total = total + n + first

  -- a chain of closures each capturing the previous one
  local chain = function(x) return x end
  for i = 1, 20 do
    local prev = chain
    chain = function(x) return prev(x) + i end
  end
  total = (total + chain(r)) % 1000003
end
print(string.format("total=%d counter=%d", total, get()))
