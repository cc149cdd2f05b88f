-- Tier 2 keeps numbers in machine registers across runtime helpers (a
-- concatenation, a closure made, a table built, a metamethod run) when the
-- helper's instruction does not write them. The helpers below run Lua
-- code that changes everything it can reach: upvalues (which live in
-- captured registers, never kept), globals, the tables, the collector.

local shared = 0
local function bump() shared = shared + 1 return shared end

local proxy = setmetatable({}, {
  __index = function(_, k)
    bump()
    collectgarbage("step")
    return k * 2
  end,
  __len = function() return bump() % 7 end,
  __concat = function(_, b)
    bump()
    return "proxy|" .. tostring(b)
  end,
})

local function work(n, scale)
  local i_sum, f_sum, count = 0, 0.5, 0
  local text = ""
  for i = 1, n do
    local a = i * scale
    local b = a + 0.25
    text = "x" .. i                          -- concatenation helper
    local g = proxy[i]                        -- __index metamethod
    local f = function() return a end         -- closure made (captures a)
    local list = { a, b, g }                  -- table built
    local l = #proxy                          -- __len metamethod
    local c = proxy .. i                      -- __concat metamethod
    i_sum = i_sum + g + l + #list + #c
    f_sum = f_sum + b * 0.5 + f()
    count = count + 1
  end
  return i_sum, f_sum, count, text
end

local total_i, total_f = 0, 0.0
for round = 1, 60 do
  local i_sum, f_sum, count = work(40, round)
  total_i = total_i + i_sum + count
  total_f = total_f + f_sum
end
print("sums", total_i, string.format("%.4f", total_f), shared)
print("last", work(5, 3))

-- A helper whose instruction writes a register the loop keeps a number
-- in: the register turns into a string in memory, and the next use must
-- see the string.
local function retyped(n)
  local s, x = 0, 0
  for i = 1, n do
    x = i
    s = s + x
    if i == n then x = "done" .. i end
  end
  return s, x
end
for _ = 1, 200 do retyped(30) end
print("retyped", retyped(30))
