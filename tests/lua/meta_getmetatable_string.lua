-- string metatable and extending string via methods
local mt = getmetatable("")
print(type(mt), mt.__index == string)
function string.twice(s) return s .. s end
print(("ab"):twice(), ("x"):twice():upper())
print(pcall(function() return ("x"):nonexistent() end))
