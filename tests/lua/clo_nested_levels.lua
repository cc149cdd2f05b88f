-- upvalues through multiple nesting levels
local function outer()
  local a = 1
  return function()
    local b = 2
    return function()
      a = a + 1
      b = b + 1
      return a + b
    end
  end
end
local mid = outer()
local f1 = mid()
local f2 = mid()
print(f1(), f1(), f2(), f1())
