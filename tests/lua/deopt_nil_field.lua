-- Field reads that always found a number start finding nil (and an
-- __index table), mid-loop.
local function norm(p) return p.x * p.x + p.y * p.y end
local pts = {}
for i = 1, 300 do pts[i] = {x = i, y = i + 1} end
local s = 0
for r = 1, 20 do
  for i = 1, #pts do s = s + norm(pts[i]) end
end
print(s)
local proto = {y = 100}
local q = setmetatable({x = 3}, {__index = proto})
print(norm(q))
print(pcall(norm, {x = 1}))
local missing = 0
for i = 1, 3000 do
  local p = pts[(i % 300) + 1]
  if i == 2999 then p = {x = 2} end
  if p.y == nil then missing = missing + 1 end
end
print(missing)
