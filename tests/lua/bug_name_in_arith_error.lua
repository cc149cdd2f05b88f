-- regression (found by differential probing): name_in_arith_error
local N = setmetatable({}, {__name = "MyType"})
print(pcall(function() return N + 1 end))
print(pcall(function() return N < N end))
