-- A branch that was never taken for thousands of runs starts being taken
-- late (tier 2 leaves the cold side out behind a guard).
local function classify(x, limit)
  if x > limit then
    return "big"
  end
  return "small"
end
local counts = {}
for i = 1, 6000 do
  local c = classify(i % 100, 1000)
  counts[c] = (counts[c] or 0) + 1
end
print(counts.small, counts.big)
for i = 1, 50 do
  local c = classify(i * 100, 1000)
  counts[c] = (counts[c] or 0) + 1
end
print(counts.small, counts.big)
local function check(v)
  if not v then return 0 end
  return 1
end
local n = 0
for i = 1, 5000 do n = n + check(i) end
n = n + check(nil) + check(false)
print(n)
