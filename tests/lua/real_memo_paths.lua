-- dynamic programming: grid paths, LCS, knapsack
local memo = {}
local function paths(r, c)
  if r == 1 or c == 1 then return 1 end
  local key = r * 1000 + c
  if memo[key] then return memo[key] end
  local v = paths(r - 1, c) + paths(r, c - 1)
  memo[key] = v
  return v
end
print(paths(3, 3), paths(10, 10), paths(17, 17))
local function lcs(a, b)
  local dp = {}
  for i = 0, #a do dp[i] = {} for j = 0, #b do dp[i][j] = 0 end end
  for i = 1, #a do for j = 1, #b do
    if a:sub(i, i) == b:sub(j, j) then dp[i][j] = dp[i - 1][j - 1] + 1
    else dp[i][j] = math.max(dp[i - 1][j], dp[i][j - 1]) end
  end end
  return dp[#a][#b]
end
print(lcs("ABCBDAB", "BDCABA"), lcs("interpreter", "interpolate"))
local items = {{w = 12, v = 4}, {w = 2, v = 2}, {w = 1, v = 1}, {w = 1, v = 2}, {w = 4, v = 10}}
local best = {}
for c = 0, 15 do best[c] = 0 end
for _, it in ipairs(items) do
  for c = 15, it.w, -1 do best[c] = math.max(best[c], best[c - it.w] + it.v) end
end
print(best[15])
