-- A local captured by a closure can change behind compiled code's back
-- (through the open upvalue), so tier 2 must never assume its type:
-- copies and arithmetic on it read it afresh.
local SIZE = 5
local function grow() SIZE = SIZE + 0.5 end
local t = {}
for i = 1, 30 do t[i] = i * 10 end
for _, s in ipairs({1, 5, 7}) do
  local a = SIZE * SIZE - s + 1
  print(s, a, t[SIZE * SIZE - s + 1])
end
for i = 1, 4 do
  local copy = SIZE
  local sq = copy * copy
  if i == 2 then grow() end
  print(i, SIZE, copy, sq, SIZE * 2)
end
local n = 0
local function bump() n = n + 1 end
for i = 1, 100 do
  local before = n
  bump()
  if n ~= before + 1 then print("stale", i) end
end
print(n)
