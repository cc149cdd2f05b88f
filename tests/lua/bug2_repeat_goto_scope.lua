-- regression (second differential probing round): repeat_goto_scope.lua
local i = 0
repeat
  i = i + 1
  if i % 2 == 0 then goto continue end
  local done = i >= 5
  print(i)
  ::continue::
until done
