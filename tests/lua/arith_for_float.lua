-- numeric for with float control
for x = 0, 1, 0.25 do io.write(x, " ") end print()
for x = 1.0, 3 do io.write(x, " ") end print()
for x = 1, 0, -0.5 do io.write(x, " ") end print()
for x = 0.1, 0.35, 0.1 do io.write(string.format("%.1f ", x)) end print()
for i = 1, 3, 1.0 do io.write(math.type(i), " ") end print()
local n = 0
for x = 1, math.huge do n = n + 1; if n == 4 then break end end
print(n)
