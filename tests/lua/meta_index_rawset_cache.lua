-- lazy computed fields cached with rawset through __index
local computed = 0
local lazy = setmetatable({}, {__index = function(t, k)
  computed = computed + 1
  local v = string.rep(k, 2)
  rawset(t, k, v)
  return v
end})
print(lazy.ab, lazy.ab, lazy.cd, computed)
