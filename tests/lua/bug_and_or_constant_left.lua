-- `K and e` / `K or e` with a constant left operand: error variable names
print(pcall(function() return (49 and '-7') >> 1 end))
print(pcall(function() return ('1e2' or 40) >> 3 end))
print(pcall(function() return (nil and 'x') or 'y' end))
print(pcall(function() return (false or '9') + 1 end))
local v = true and 5
print(v, false or nil, nil and 1, 0 or 1, '' and 'nonempty')
