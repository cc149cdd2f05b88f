-- Numeric for loops whose preparation compiled code does inline (integer
-- start, limit and a non-zero step) and every case it hands back. Each loop
-- runs inside a function called often enough to be compiled.
local function count(a, b, s)
  local n, last = 0, nil
  for i = a, b, s do n = n + 1; last = i end
  return n, last
end
local mi, ma = math.mininteger, math.maxinteger
local cases = {
  { 1, 10, 1 }, { 1, 10, 3 }, { 5, 5, 1 }, { 6, 5, 1 }, { -3, 3, 2 },
  { mi, mi + 2, 1 }, { ma - 2, ma, 1 }, { mi, ma, ma }, { 0, ma, ma // 3 },
  { 10, 1, -1 }, { 10, 1, -4 }, { 1, 10, -1 }, { mi, ma, -1 },
  { ma, mi, mi }, { mi + 5, mi, -3 }, { ma, ma - 5, -2 }, { 0, mi, mi }, { 3, 3, -1 },
  { 1, 2.5, 1 }, { 1.0, 3, 1 }, { 1, 3, 0.5 }, { 3, 1.5, -1 },
  { 1, ma + 0.0, ma }, { 1, -1e300, 1 },
}
for round = 1, 300 do
  for k, c in ipairs(cases) do
    local n, last = count(c[1], c[2], c[3])
    if round == 300 then print(k, n, last) end
  end
end
for _, bad in ipairs({ { 1, 10, 0 }, { "1", 10, 1 }, { 1, "x", 1 }, { 1, 10, {} } }) do
  print(pcall(count, bad[1], bad[2], bad[3]))
end
