-- growing and shrinking arrays, holes filled later
local t = {}
for i = 1, 1000 do t[#t + 1] = i * i end
print(#t, t[1], t[500], t[1000])
local s = 0
for i = 1, #t do s = s + t[i] end
print(s)
for i = 1, 500 do table.remove(t) end
print(#t, t[#t])
local r = {}
for i = 10, 1, -1 do r[i] = i end
print(#r, table.concat(r, ","))
