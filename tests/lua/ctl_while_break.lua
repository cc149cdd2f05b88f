-- while loops with break and nested loops
local i = 0
while true do
  i = i + 1
  if i > 5 then break end
end
print(i)
local found
for a = 1, 10 do
  for b = 1, 10 do
    if a * b == 42 then found = a .. "x" .. b break end
  end
  if found then break end
end
print(found)
local n, steps = 27, 0
while n ~= 1 do if n % 2 == 0 then n = n // 2 else n = 3 * n + 1 end steps = steps + 1 end
print(steps)
