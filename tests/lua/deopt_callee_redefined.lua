-- A call site that always went to one global function sees the global
-- rebound to another function, then to a table with __call, then to nil.
function helper(x) return x + 1 end
local function drive(n)
  local s = 0
  for i = 1, n do s = s + helper(i) end
  return s
end
print(drive(3000))
helper = function(x) return x * 2 end
print(drive(3000))
helper = setmetatable({}, {__call = function(self, x) return 7 end})
print(drive(10))
helper = nil
print(pcall(drive, 1))
local f = function(a) return a end
local function twice(g, x) return g(g(x)) end
local r = 0
for i = 1, 3000 do r = r + twice(f, i) end
print(r, twice(function(a) return a .. "!" end, "hi"))
