-- error message concatenation of numbers, positions in nested functions
local function f(n)
  if n == 0 then error("reached zero with value " .. n) end
  return f(n - 1)
end
print(pcall(f, 3))
local ok, e = pcall(error, "msg", 1)
print(ok, e)
local ok2, e2 = pcall(function() error("x", 1) end)
print(ok2, e2)
local ok3, e3 = pcall(function() error(123) end)
print(ok3, e3, math.type(e3))
