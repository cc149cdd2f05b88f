-- method calls on strings via string metatable __index
local s = "Hello"
print(s:len(), s:upper(), s:lower(), s:rep(2), s:byte(1), s:sub(2, 3))
print(("%d"):format(5), ("x"):rep(3, ","), ("abc"):reverse())
print(getmetatable("").__index == string, type(getmetatable("")))
print(("test"):find("s"), ("a,b"):gsub(",", ";"))
string.shout = function(x) return x:upper() .. "!" end
print(("hey"):shout())
local n = 10
print(pcall(function() return n:upper() end))
