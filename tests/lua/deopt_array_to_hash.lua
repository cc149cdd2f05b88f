-- Array-part loads and stores for a long time, then the same code reads
-- a table whose keys live in the hash part, and keys past the end.
local function sum(t, n)
  local s = 0
  for i = 1, n do s = s + t[i] end
  return s
end
local function fill(t, n, v)
  for i = 1, n do t[i] = v + i end
end
local a = {}
fill(a, 200, 0)
local total = 0
for _ = 1, 100 do total = total + sum(a, 200) end
print(total)
local h = {}
for i = 200, 1, -1 do h[i] = i * 2 end -- filled backwards: hash part first
print(sum(h, 200))
local sparse = {[1] = 1, [3] = 3, [1000] = 5}
print(pcall(sum, sparse, 3))
fill(sparse, 5, 10)
print(sparse[1], sparse[5], sparse[1000])
