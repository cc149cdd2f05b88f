-- Comparisons that go one way for thousands of runs and then the other:
-- their taken/not-taken counts make the unused side cold, tier 2 leaves it
-- out behind a deopt, and the late flip must still give lua5.4's answers.
local function over(x, limit)
  if x > limit then return "over" end
  return "under"
end
local function atmost(x, y)
  if x <= y then return 1 end
  return -1
end
local function is_seven(n)
  if n == 7 then return true end
  return false
end

local counts = {}
for i = 1, 6000 do
  local c = over(i % 100, 1000)
  counts[c] = (counts[c] or 0) + 1
end
for i = 1, 40 do
  local c = over(i * 100, 1000)
  counts[c] = (counts[c] or 0) + 1
end
print(counts.under, counts.over)

local s = 0
for i = 1, 6000 do s = s + atmost(i * 0.5, 1e9) end
for i = 1, 40 do s = s + atmost(1e10 + i, 1e9) end
print(s)

local sevens = 0
for i = 1, 6000 do if is_seven(i % 5) then sevens = sevens + 1 end end
for i = 1, 30 do if is_seven(i % 8) then sevens = sevens + 1 end end
print(sevens)

-- A loop whose comparison flips halfway through one long call (tier 2
-- arrives by OSR while the first half runs).
local function halves(n)
  local lo, hi = 0, 0
  local half = n // 2
  for i = 1, n do
    if i > half then hi = hi + 1 else lo = lo + 1 end
  end
  return lo, hi
end
print(halves(300001))
print(halves(11))
