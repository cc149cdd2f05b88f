-- named params plus varargs; missing args are nil
local function f(a, b, ...)
  return a, b, select("#", ...)
end
print(f())
print(f(1))
print(f(1, 2, 3, 4, 5))
local function g(a, b) return a, b end
print(g(1, 2, 3))
local function h(...) local a, b = ... return a, b end
print(h(9), h(7, 8, 9))
