-- functions as first-class values: map, filter, reduce, compose
local function map(t, f) local r = {} for i, v in ipairs(t) do r[i] = f(v) end return r end
local function filter(t, p) local r = {} for _, v in ipairs(t) do if p(v) then r[#r + 1] = v end end return r end
local function reduce(t, f, acc) for _, v in ipairs(t) do acc = f(acc, v) end return acc end
local function compose(f, g) return function(...) return f(g(...)) end end
local nums = {1, 2, 3, 4, 5, 6}
print(table.concat(map(nums, function(x) return x * x end), " "))
print(table.concat(filter(nums, function(x) return x % 2 == 0 end), " "))
print(reduce(nums, function(a, b) return a + b end, 0))
local inc_then_double = compose(function(x) return x * 2 end, function(x) return x + 1 end)
print(inc_then_double(5))
print((function(...) return select("#", ...) end)(1, 2, 3))
