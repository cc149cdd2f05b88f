-- Tier 2 speculates integer arithmetic from a long integer phase; the
-- loop then switches to floats mid-run and must deoptimize correctly.
local function step(acc, x)
  return acc * 3 + x - (acc // 7)
end
local acc = 0
for i = 1, 3000 do
  local x = i
  if i > 2500 then x = i + 0.25 end
  acc = step(acc % 100000, x)
end
print(acc, math.type(acc))
local s = 0
for i = 1, 5000 do
  local v = i
  if i % 1000 == 0 then v = v / 2 end
  s = s + v
end
print(s, math.type(s))
