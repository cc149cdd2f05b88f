-- parse simple CSV-like lines with patterns
local data = [[
name,age,city
alice,30,paris
bob,25,berlin
carol,41,new york]]
local rows = {}
for line in data:gmatch("[^\n]+") do
  local row = {}
  for field in (line .. ","):gmatch("([^,]*),") do row[#row + 1] = field end
  rows[#rows + 1] = row
end
for i, r in ipairs(rows) do print(i, #r, table.concat(r, "|")) end
local total = 0
for i = 2, #rows do total = total + tonumber(rows[i][2]) end
print("total age", total)
