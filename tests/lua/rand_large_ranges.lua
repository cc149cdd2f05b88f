-- random with large ranges and shuffle using a seeded generator
math.randomseed(2024)
print(math.random(math.mininteger, math.maxinteger))
print(math.random(0, math.maxinteger))
print(math.random(math.maxinteger))
print(math.random(0))
local t = {}
for i = 1, 10 do t[i] = i end
for i = #t, 2, -1 do local j = math.random(i); t[i], t[j] = t[j], t[i] end
print(table.concat(t, " "))
