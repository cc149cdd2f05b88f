-- table.sort default order and custom comparators
local t = {5, 2, 8, 1, 9, 3, 7, 4, 6, 10}
table.sort(t)
print(table.concat(t, " "))
table.sort(t, function(a, b) return a > b end)
print(table.concat(t, " "))
local words = {"pear", "apple", "fig", "banana", "kiwi"}
table.sort(words)
print(table.concat(words, " "))
table.sort(words, function(a, b) if #a ~= #b then return #a < #b end return a < b end)
print(table.concat(words, " "))
local mixed = {3.5, 1, 2.25, -7, 0, 100}
table.sort(mixed)
print(table.concat(mixed, " "))
print((pcall(table.sort, {1, "x", 2})))
local one = {42}
table.sort(one)
print(one[1])
