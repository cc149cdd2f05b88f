-- pairs/ipairs accept any value; iterating a non-table fails in the 'for iterator'
print(select('#', pcall(pairs, nil)), (pcall(pairs, nil)))
print(select('#', pcall(ipairs, nil)), (pcall(ipairs, nil)))
print(pcall(function() for k, v in ipairs(nil) do end end))
local cfg = nil
for k, v in pairs(cfg) do print(k, v) end
