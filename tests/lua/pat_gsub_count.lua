-- gsub returns number of substitutions; max count limits
local s = "one fish two fish red fish blue fish"
local r, n = s:gsub("fish", "FISH")
print(r, n)
for i = 0, 5 do print(i, (s:gsub("fish", "F", i))) end
print(select(2, s:gsub("%w+", "")))
print(pcall(string.gsub, s, "fish", "x", 1.5))
