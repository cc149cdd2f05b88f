-- regression (compiler review): case 01
local fs, i = {}, 0
repeat
  local x = i
  i = i + 1
until (function() fs[i] = function() return x end end)() or i == 2
print(fs[1](), fs[2]())
