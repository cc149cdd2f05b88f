-- numeric for near maxinteger/mininteger does not overflow
local max, min = math.maxinteger, math.mininteger
local c = 0
for i = max - 2, max do c = c + 1; io.write(i, " ") end print(c)
c = 0
for i = min + 2, min, -1 do c = c + 1; io.write(i, " ") end print(c)
c = 0
for i = max - 5, max, 4 do c = c + 1; io.write(i, " ") end print(c)
c = 0
for i = 1, 0, max do c = c + 1 end print(c)
c = 0
for i = min, min + 10, max do c = c + 1; io.write(i, " ") end print(c)
c = 0
for i = max, max - 1 do c = c + 1 end print(c)
c = 0
for i = 1, 3.7 do c = c + 1 end print(c)
c = 0
for i = 3, 0.5, -1 do c = c + 1 end print(c)
c = 0
for i = 1, 2^70 do c = c + 1; if c > 3 then break end end print(c)
c = 0
for i = -1, -2^70, -1 do c = c + 1; if c > 3 then break end end print(c)
