-- regression (third differential probing round): table_sort_algorithm
local t = {}
for i = 1, 10 do t[i] = {k = i % 2, id = i} end
table.sort(t, function(a, b) return a.k < b.k end)
local o = {}
for i, v in ipairs(t) do o[i] = v.id end
print(table.concat(o, " "))
print(pcall(table.sort, {5,1,4,1,5,9,2,6,5,3,5}, function(a, b) return a <= b end))
