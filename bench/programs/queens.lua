-- bench: backtracking: N-queens via bitmasks and via arrays, plus a subset-sum search
-- luajit: no (uses bitwise operators & | ~ << >>)
local NBIT = 14
local NARR = 9

local function queens_bits(n)
  local full = (1 << n) - 1
  local count = 0
  local function place(cols, d1, d2)
    if cols == full then
      count = count + 1
      return
    end
    local avail = full & ~(cols | d1 | d2)
    while avail ~= 0 do
      local bit = avail & -avail
      avail = avail ~ bit
      place(cols | bit, ((d1 | bit) << 1) & full, (d2 | bit) >> 1)
    end
  end
  place(0, 0, 0)
  return count
end

local function queens_array(n)
  local pos = {}
  local count, first = 0, nil
  local function safe(row, col)
    for r = 1, row - 1 do
      local c = pos[r]
      if c == col or c - col == row - r or col - c == row - r then return false end
    end
    return true
  end
  local function solve(row)
    if row > n then
      count = count + 1
      if not first then first = table.concat(pos, "", 1, n) end
      return
    end
    for col = 1, n do
      if safe(row, col) then
        pos[row] = col
        solve(row + 1)
      end
    end
  end
  solve(1)
  return count, first
end

-- subset sum: count subsets of a small set that sum to a target (pure backtracking with pruning)
local function subset_count(items, target)
  local n = #items
  local suffix = {}
  suffix[n + 1] = 0
  for i = n, 1, -1 do suffix[i] = suffix[i + 1] + items[i] end
  local count = 0
  local function go(i, remaining)
    if remaining == 0 then count = count + 1; return end
    if i > n or remaining < 0 or suffix[i] < remaining then return end
    go(i + 1, remaining - items[i])
    go(i + 1, remaining)
  end
  go(1, target)
  return count
end

local results = {}
for n = 4, NBIT do results[#results + 1] = queens_bits(n) end
local ac, af = queens_array(NARR)
local items = {}
for i = 1, 22 do items[i] = (i * 37) % 23 + i end
local sc = subset_count(items, 150)
print(table.concat(results, ","), ac, af, sc)
