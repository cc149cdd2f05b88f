-- regression (code review): sort_index keeps values rooted while metamethods may collect
-- table.sort reads elements via __index into a Rust Vec before rooting them
local N = 200
local p = setmetatable({}, {
  __len = function() return N end,
  __index = function(_, i)
    local t = {}
    for j = 1, 50 do t[j] = {} end      -- churn: NewTable safepoints
    return {v = (i * 7919) % N, pad = string.rep("x", 100) .. i}
  end,
  __newindex = function(_, i, v) rawset(_, i, v) end,
})
table.sort(p, function(a, b) return a.v < b.v end)
local ok = true
for i = 1, N do if rawget(p, i).v ~= i - 1 then ok = false end end
print(ok, rawget(p, 1).pad, rawget(p, N).pad)
