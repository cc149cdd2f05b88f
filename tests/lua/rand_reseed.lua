-- reseeding reproduces the same sequence; ranges are respected
local function seq(seed)
  math.randomseed(seed)
  local t = {}
  for i = 1, 8 do t[i] = math.random(1000) end
  return table.concat(t, ",")
end
local a, b, c = seq(123), seq(123), seq(124)
print(a)
print(a == b, a == c)
print(c)
math.randomseed(0)
local ok = true
for i = 1, 1000 do
  local v = math.random(3, 9)
  if v < 3 or v > 9 or math.type(v) ~= "integer" then ok = false end
  local f = math.random()
  if f < 0 or f >= 1 then ok = false end
end
print(ok)
print(pcall(math.random, 5, 1))
print(pcall(math.random, 1, 2, 3))
