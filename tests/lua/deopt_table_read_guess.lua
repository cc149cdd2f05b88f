-- A value read from a table and then indexed (`m[i][j]`, `o.pos.x`) is
-- guessed by tier 2 to be a table. These loops warm up on tables, then
-- meet a string, a number, a nil and a table with __index in that spot.

local function sum_rows(m, n, rounds)
  local s = 0
  for _ = 1, rounds do
    for i = 1, #m do
      for j = 1, n do
        local v = m[i][j]
        if type(v) == "number" then s = s + v elseif v ~= nil then s = s + #tostring(v) end
      end
    end
  end
  return s
end

local m = {}
for i = 1, 20 do
  local row = {}
  for j = 1, 8 do row[j] = i * j end
  m[i] = row
end
print("tables", sum_rows(m, 8, 3000))
m[7] = "a string row"
print("string row", sum_rows(m, 8, 5))
m[7] = setmetatable({}, { __index = function(_, j) return j * 1000 end })
print("__index row", sum_rows(m, 8, 5))
m[7] = 42
print("number row", pcall(sum_rows, m, 8, 1))
m[7] = nil
print("nil row", pcall(sum_rows, m, 8, 1))

-- Field reads: `p.pos.x`.
local function total_x(ps, rounds)
  local s = 0.0
  for _ = 1, rounds do
    for i = 1, #ps do
      local p = ps[i]
      s = s + p.pos.x * 2 + p.pos.y
    end
  end
  return s
end
local ps = {}
for i = 1, 30 do ps[i] = { pos = { x = i * 0.5, y = i } } end
print("fields", total_x(ps, 5000))
ps[3].pos = setmetatable({}, { __index = { x = 1, y = 2 } })
print("inherited pos", total_x(ps, 5))
ps[3].pos = "xy"
print("string pos", pcall(total_x, ps, 1))

-- Writes through a read table: `grid[i][j] = v`.
local function fill(grid, n, v)
  for i = 1, #grid do
    for j = 1, n do grid[i][j] = v + i + j end
  end
end
local grid = {}
for i = 1, 10 do grid[i] = {} end
for r = 1, 3000 do fill(grid, 10, r) end
print("filled", grid[3][4], grid[10][10])
local log = {}
grid[5] = setmetatable({}, { __newindex = function(_, k, v) log[#log + 1] = k .. "=" .. v end })
fill(grid, 3, 0)
print("__newindex row", table.concat(log, " "))
grid[5] = true
print("boolean row", pcall(fill, grid, 3, 0))
