-- forwarding varargs through multiple functions
local function inner(...) return select("#", ...), ... end
local function outer(...) return inner(...) end
print(outer(1, 2, 3))
print(outer())
print(outer(nil, nil))
local function wrap(f) return function(...) return "before", f(...) end end
print(wrap(function(a, b) return a + b end)(3, 4))
