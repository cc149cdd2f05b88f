-- upvalues stay alive after the enclosing function returns
local function make_accumulators()
  local total = 0
  local fns = {}
  for _, step in ipairs({1, 10, 100}) do
    fns[#fns + 1] = function() total = total + step; return total end
  end
  return fns, function() return total end
end
local fns, get = make_accumulators()
fns[1](); fns[2](); fns[3](); fns[2]()
print(get())
local fns2, get2 = make_accumulators()
fns2[3]()
print(get(), get2())
