-- assert messages and returned values
print(pcall(assert, false))
print(pcall(assert, nil))
print(pcall(assert, false, "explicit"))
print(pcall(assert, 1 == 2, "math is broken"))
local ok, e = pcall(assert, false, {1, 2})
print(ok, type(e), #e)
print(select("#", assert(1, 2, 3, nil)))
print(pcall(function() assert(tonumber("x"), "not a number: x") end))
