-- The compose tests' module: a loop whose argument type the tests flip
-- (integer, then float), so tier-2 code speculating on integers deopts and
-- the node publishes a speculation outcome.
local M = {}

function M.add(n, x)
  local s = 0
  for i = 1, n do s = s + x * i end
  return s
end

return M
