-- A branch that stays cold for a long loop inside one invocation, then is
-- taken: tier 2 (entered by OSR) left that side out, deoptimizes, and the
-- interpreter runs the cold side. That side has its own loop and calls,
-- whose back-edges and returns are resume points; resuming compiled code
-- there once ran into the loop with its counter lost (the outer loop
-- stopped after the first flip).
local total, n = 0, 0
local function bump(k) n = n + k end
for r = 1, 3000 do
  for i = 1, 1000 do total = total + i end
  if r % 1000 == 0 then
    for j = 1, 300 do bump(1) end
  end
end
print(total, n)

-- The same with methods and float state, as in an object workload.
local S = {}
S.__index = S
function S:grow(k) self.scale = self.scale * k end
local items = {}
for i = 1, 500 do items[i] = setmetatable({scale = 1.0, v = i}, S) end
local sum, rounds = 0.0, 0
for r = 1, 2500 do
  for i = 1, 500 do sum = sum + items[i].v * items[i].scale end
  if r % 600 == 0 then
    for i = 1, 500, 7 do items[i]:grow(1.5) end
  end
  rounds = rounds + 1
end
print(string.format("%.3f", sum), rounds)

-- A cold side entered from a while loop whose condition flips late.
local k, seen = 0, 0
while k < 200000 do
  k = k + 1
  if k > 150000 and k % 10000 == 1 then
    local m = 0
    for q = 1, 50 do m = m + q end
    seen = seen + m
  end
end
print(k, seen)
