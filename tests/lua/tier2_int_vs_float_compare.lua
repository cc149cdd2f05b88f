-- An operand tier 2 has proven to be an integer (by an earlier integer
-- operation) compared with a float constant: the comparison must not
-- convert it behind the plan's back, and what follows must still see the
-- register's real value.
local function f(a, b)
  local r = (a - b)
  if 2.0 > b then r = r + 3 else r = (b - -1.25) end
  return r
end
for i = 1, 10 do
  local a, b = (i < 5 and i * 2 or i / 4), (i < 5 and i or i + 0.5)
  print(i, a, b, f(a, b))
end
local function g(n)
  local s = 0
  for i = 1, n do
    local x = i * 3
    if x <= 7.5 then s = s + x else s = s - x * 0.5 end
  end
  return s
end
print(g(10), g(2), math.type(g(2)))
print(2^53 + 1 < 2^53 + 2, math.maxinteger + 0.0 == math.maxinteger)
