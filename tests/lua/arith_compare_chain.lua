-- comparing numbers across representations
local vals = {3, 3.0, 2.5, -1, 10, 1e3, -0.0, 0}
for i = 1, #vals do
  local row = {}
  for j = 1, #vals do
    row[#row + 1] = (vals[i] < vals[j]) and "<" or ((vals[i] == vals[j]) and "=" or ">")
  end
  print(table.concat(row))
end
