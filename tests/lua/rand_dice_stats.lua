-- dice statistics with a fixed seed
math.randomseed(7)
local counts = {0, 0, 0, 0, 0, 0}
for i = 1, 600 do local d = math.random(6); counts[d] = counts[d] + 1 end
print(table.concat(counts, " "))
local sum = 0
for i = 1, 100 do sum = sum + math.random(2, 12) end
print(sum)
print(string.format("%.6f", math.random()))
