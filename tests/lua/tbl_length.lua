-- # on proper sequences and after growth/shrink
local t = {}
for i = 1, 100 do t[i] = i end
print(#t)
t[#t] = nil
print(#t)
for i = #t, 51, -1 do t[i] = nil end
print(#t)
local s = {"a", "b", "c"}
s[#s + 1] = "d"
print(#s, s[#s])
print(#"abc", #{1, 2, 3, nil})
local u = {n = 5}
print(#u)
