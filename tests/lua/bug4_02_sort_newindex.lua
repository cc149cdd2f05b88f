-- regression (code review): sort_newindex keeps values rooted while metamethods may collect
-- after merge_sort, top is reset and values live only in the Rust Vec while __newindex runs
local N = 100
local data = {}
for i = 1, N do data[i] = {v = N - i, s = "val" .. (N - i) .. string.rep("y", 60)} end
local p = setmetatable({}, {
  __len = function() return N end,
  __index = function(_, i) return data[i] end,
  __newindex = function(_, i, v)
    data[i] = v          -- drops the old element at i (now only in sort's Rust Vec)
    collectgarbage()
    for j = 1, 100 do local g = {j, tostring(j) .. "pad-pad-pad-pad-pad-pad-pad-pad-pad-pad"} end
  end,
})
table.sort(p, function(a, b) return a.v < b.v end)
local ok = true
for i = 1, N do
  if data[i].v ~= i - 1 or data[i].s ~= "val" .. (i-1) .. string.rep("y", 60) then ok = false; print("bad", i, data[i].v, data[i].s) break end
end
print(ok)
