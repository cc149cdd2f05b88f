-- The pioneer workload: every handler runs one long loop whose behaviour
-- changes halfway through the invocation. The loop gets hot, and is
-- compiled at tier 2 by on-stack replacement, within the first half of the
-- very first call, so the code speculates on what the first half showed,
-- and the second half breaks that speculation. Every node that compiles
-- from its own first half deopts; a node that waits for a peer's
-- speculation outcome does not. (It lives in a subdirectory because the
-- compose deployment loads every .lua file directly in workloads/.)
local M = {}

-- Integer arithmetic that turns float halfway: the add and the multiply
-- were speculated integer.
function M.drift(n)
  local s, step = 0, 1
  local half = n // 2
  for i = 1, n do
    if i == half then step = 0.5 end
    s = s + step * (i % 7)
  end
  return s
end

-- A branch never taken in the first half (left out of tier-2 code as
-- cold), then taken every 3rd iteration.
function M.tally(n)
  local hits, misses = 0, 0
  local half = n // 2
  for i = 1, n do
    if i > half and i % 3 == 0 then
      hits = hits + 1
    else
      misses = misses + 1
    end
  end
  return hits * 1000000 + misses
end

-- Float arithmetic that meets integers halfway: the scale factor was
-- speculated float.
function M.scale(n)
  local s, k = 0.0, 1.5
  local half = n // 2
  for i = 1, n do
    if i == half then k = 2 end
    s = s + k
  end
  return s
end

return M
