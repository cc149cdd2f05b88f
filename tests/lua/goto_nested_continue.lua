-- continue labels in nested loops with the same label name in different blocks
for i = 1, 3 do
  for j = 1, 4 do
    if j == 2 then goto continue end
    io.write(i, ":", j, " ")
    ::continue::
  end
  if i == 2 then goto continue end
  io.write("| ")
  ::continue::
end
print()
local k = 0
repeat
  k = k + 1
  if k == 2 then goto skip end
  io.write(k, " ")
  ::skip::
until k >= 4
print()
