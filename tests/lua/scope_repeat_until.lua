-- repeat-until sees locals declared in the body
local i = 0
repeat
  local done = i >= 3
  i = i + 1
until done
print(i)
local n = 10
repeat local m = n; n = n - 3 until m < 5
print(n)
local fs = {}
local k = 0
repeat
  k = k + 1
  local kk = k
  fs[k] = function() return kk end
until kk == 3
print(fs[1](), fs[2](), fs[3]())
