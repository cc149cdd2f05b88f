-- read-only table via proxy with __index and __newindex
local function readonly(t)
  return setmetatable({}, {__index = t, __newindex = function(_, k)
    error("attempt to update a read-only table (key " .. tostring(k) .. ")", 2)
  end, __len = function() return #t end})
end
local days = readonly({"mon", "tue", "wed"})
print(days[1], days[3], #days)
local ok, err = pcall(function() days[4] = "thu" end)
print(ok, err)
