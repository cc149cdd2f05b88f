-- Integer operands for thousands of calls, then numeric strings (coerced)
-- and finally a non-numeric string (an error with lua5.4's message).
local function add(a, b) return a + b end
local function lt(a, b) return a < b end
local t = 0
for i = 1, 3000 do t = add(t, i) end
print(t)
for i = 1, 10 do t = add(t, tostring(i)) end
print(t, math.type(t))
print(pcall(add, t, "x1"))
local c = 0
for i = 1, 3000 do if lt(i, 1500) then c = c + 1 end end
print(c)
print(pcall(lt, 1, "2"))
print(lt("a", "b"), lt("b", "a"))
