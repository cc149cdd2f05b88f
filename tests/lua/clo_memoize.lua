-- memoization with closures over a cache table
local function memoize(f)
  local cache, calls = {}, 0
  return function(n)
    local v = cache[n]
    if v == nil then calls = calls + 1; v = f(n); cache[n] = v end
    return v
  end, function() return calls end
end
local slowsq = function(n) return n * n end
local sq, ncalls = memoize(slowsq)
print(sq(4), sq(4), sq(5), sq(4), ncalls())
local fib
local mfib
fib = function(n) if n < 2 then return n end return mfib(n - 1) + mfib(n - 2) end
mfib = memoize(fib)
print(mfib(80), mfib(90))
