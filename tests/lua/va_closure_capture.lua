-- closures capturing varargs via table
local function bind(f, ...)
  local bound = table.pack(...)
  return function(...)
    local args = {}
    for i = 1, bound.n do args[i] = bound[i] end
    local extra = table.pack(...)
    for i = 1, extra.n do args[bound.n + i] = extra[i] end
    return f(table.unpack(args, 1, bound.n + extra.n))
  end
end
local add3 = function(a, b, c) return a + b + c end
print(bind(add3, 1)(2, 3), bind(add3, 1, 2)(3), bind(add3, 1, 2, 3)())
local show = bind(function(...) return select("#", ...), ... end, nil)
print(show(nil))
