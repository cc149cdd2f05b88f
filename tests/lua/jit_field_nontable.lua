-- Field reads and writes whose operand is not always a table: strings
-- (their metatable's __index), nil, numbers, booleans and functions, mixed
-- with real tables at the same instruction, in loops hot enough to compile.
local function getx(o) return o.x end
local function getlen(o) return o.len end
local function setx(o, v) o.x = v end

local items = { {x = 1}, "str", 42, true, {x = 2}, getx, {y = 3}, 1.5 }
local sum, fails = 0, 0
for round = 1, 300 do
  for i = 1, #items do
    local ok, v = pcall(getx, items[i])
    if ok then
      if type(v) == "number" then sum = sum + v end
    else
      fails = fails + 1
    end
  end
end
print("sum", sum, "fails", fails)

-- Strings reach `string` through their metatable: o.len is string.len.
local n = 0
for i = 1, 500 do
  local f = getlen(i % 2 == 0 and "abc" or {len = function() return 7 end})
  n = n + f("hello")
end
print("len calls", n)

-- Writes: tables take them, anything else raises the same error each time.
local t = {x = 0}
local errs = {}
for i = 1, 400 do
  setx(t, i)
  local ok, e = pcall(setx, i % 3 == 0 and "s" or (i % 3 == 1 and 5 or nil), i)
  if not ok then errs[e] = (errs[e] or 0) + 1 end
end
print("t.x", t.x)
local keys = {}
for k in pairs(errs) do keys[#keys + 1] = k end
table.sort(keys)
for _, k in ipairs(keys) do print(k, errs[k]) end

-- A global read and write through the same cache while globals change.
G = 1
local function bump() G = G + 1; return G end
for i = 1, 300 do bump() end
print("G", G)

-- The error message names the value as lua5.4 does.
print(pcall(function() local z; return z.x end))
print(pcall(function() local z = 3; z.x = 1 end))
