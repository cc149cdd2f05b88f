-- table.sort orders ties exactly as lua5.4 (same quicksort), and detects invalid order functions
math.randomseed(7)
for round = 1, 30 do
  local t = {}
  local n = math.random(0, 300)
  for i = 1, n do t[i] = {k = math.random(1, 20), id = i} end
  table.sort(t, function(a, b) return a.k < b.k end)
  local ids = {}
  for i = 1, #t do ids[i] = t[i].id end
  print(round, n, table.concat(ids, ","):sub(1, 60))
end
local ok, e = pcall(table.sort, {5, 3, 1, 4, 2, 9, 7, 8, 6, 0, 11, 15, 13}, function(a, b) return true end)
print(ok, e)
local s = {} for i = 1, 200 do s[i] = (i * 37) % 101 end table.sort(s) print(s[1], s[100], s[200])
local w = {"pear", "apple", "fig", "kiwi", "banana"} table.sort(w, function(a, b) return #a < #b end) print(table.concat(w, " "))
