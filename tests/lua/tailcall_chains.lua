-- Tail calls in every tier: long chains run in constant stack, the callee
-- takes over the caller's results, protection and varargs.
local function count(n, acc)
  if n == 0 then return acc end
  return count(n - 1, acc + n)
end
print(count(1000000, 0))

local even
local function odd(n) if n == 0 then return false end return even(n - 1) end
function even(n) if n == 0 then return true end return odd(n - 1) end
print(even(200001), odd(200001))

-- Fewer and more arguments than parameters.
local function three(a, b, c) return a, b, c end
local function short(x) return three(x) end
local function long(x) return three(x, x + 1, x + 2, x + 3) end
print(short(1))
print(long(1))

-- Into a vararg function, and from one.
local function sum(...)
  local s = 0
  for i = 1, select("#", ...) do s = s + select(i, ...) end
  return s, select("#", ...)
end
local function fwd(...) return sum(...) end
print(fwd(1, 2, 3, 4))
print(fwd())

-- A callable table, a native, a multi-result callee.
local callable = setmetatable({}, {__call = function(self, x) return x * 2, "via __call" end})
local function viacall(x) return callable(x) end
print(viacall(21))
local function tonative(x) return math.max(x, 10) end
print(tonative(3), tonative(30))
local function multi() return 1, nil, 3 end
local function passes() return multi() end
print(passes())
print(select("#", passes()))

-- Errors raised by the tail-called function reach the caller's pcall.
local function fails(x) error({code = x}) end
local function tails(x) return fails(x) end
local ok, e = pcall(tails, 7)
print(ok, type(e), e.code)
local function bad(x) return x.field end
local function tails_bad(x) return bad(x) end
print(pcall(tails_bad, nil))

-- pcall itself in tail position, and tail calls under pcall.
local function protected(x) return pcall(count, x, 0) end
print(protected(10))

-- Upvalues of the caller are closed before the callee runs.
local function make(n)
  local fs = {}
  for i = 1, n do
    local v = i * 10
    fs[i] = function() return v end
  end
  return fs
end
local function first_of(n) local fs = make(n) return fs[1]() + fs[n]() end
print(first_of(5))

-- Hot loop of non-recursive tail calls.
local function add1(x) return x + 1 end
local function via(x) return add1(x) end
local s = 0
for i = 1, 200000 do s = via(s) end
print(s)
