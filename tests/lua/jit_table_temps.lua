-- Tables read into temporaries inside hot loops (`b[k][j]`, `local row =
-- m[i]`): tier 2 keeps them in machine registers only, so every way out of
-- the loop (a failed guard, a call, the collector) must still find them in
-- their registers.

local function grid(n, f)
  local m = {}
  for i = 1, n do
    local row = {}
    for j = 1, n do row[j] = f(i, j) end
    m[i] = row
  end
  return m
end

local function colsum(m, n, j)
  local s = 0
  for k = 1, n do s = s + m[k][j] end
  return s
end

-- A product built column by column: every step reads a row
-- table into a temporary (`b[k]`) and indexes it at once.
local function mul(a, b, n)
  local c = {}
  for j = 1, n do
    local col = {}
    for i = 1, n do
      local row, s = a[i], 0.0
      local k = n
      while k >= 1 do
        s = s + row[k] * b[k][j]
        k = k - 1
      end
      col[i] = s
    end
    c[j] = col
  end
  return c
end

local n = 24
local a = grid(n, function(i, j) return (i * 3 + j) % 7 - 3 end)
local b = grid(n, function(i, j) return ((i + j * 5) % 11) / 4 end)
local total = 0
for round = 1, 40 do
  local c = mul(a, b, n)
  total = total + c[round % n + 1][(round * 7) % n + 1]
  for j = 1, n do total = total + colsum(a, n, j) end
end
print("warm", total)

-- An element turns into a float, then a string, then a hole, deep in the
-- column: the guard fails with the row only in a register.
a[20][5] = 2.5
print(colsum(a, n, 5))
a[21][5] = "7"
print(colsum(a, n, 5))
a[22][5] = nil
print(pcall(colsum, a, n, 5))
a[22][5] = 1

-- A row that is not a table any more.
local saved = a[23]
a[23] = 42
print(pcall(colsum, a, n, 1))
a[23] = setmetatable({}, { __index = function(t, k) return k * 100 end })
print(colsum(a, n, 3))
a[23] = saved

-- The collector runs between uses of the temporaries (the inner loops
-- allocate through a call).
local keep = {}
local function churn(m, n)
  local s = 0
  for i = 1, n do
    local row = m[i]
    for j = 1, n do
      s = s + row[j]
      if j % 8 == 0 then keep[#keep % 50 + 1] = { i, j, tostring(s) } end
    end
    collectgarbage("step", 10)
    s = s + row[1] + #row
  end
  return s
end
for _ = 1, 30 do churn(a, n) end
print(churn(a, n), #keep)

local c = mul(a, b, n)
local s = 0
for i = 1, n do for j = 1, n do s = s + c[i][j] end end
print(string.format("%.6f", s))
