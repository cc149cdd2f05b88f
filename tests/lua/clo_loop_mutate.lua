-- closures in a loop capturing and mutating a per-iteration local
local incs, gets = {}, {}
for i = 1, 3 do
  local x = i * 10
  incs[i] = function() x = x + 1 end
  gets[i] = function() return x end
end
incs[1](); incs[1](); incs[3]()
print(gets[1](), gets[2](), gets[3]())
