-- regression (second differential probing round): noncallable_metamethod.lua
local v = setmetatable({}, {__add = true})
print(pcall(function() return v + 1 end))
local w = setmetatable({}, {__len = 5})
print(#w)
