-- metamethod lookup: left operand first, then right
local L = setmetatable({}, {__add = function() return "left" end})
local R = setmetatable({}, {__add = function() return "right" end})
print(L + R, R + L, L + 1, 1 + R)
local plain = {}
print(pcall(function() return plain + plain end))
print(pcall(function() return plain .. "x" end))
local S = setmetatable({}, {__concat = function(a, b) return "cat" end})
print(S .. "x", "x" .. S, 1 .. S)
print("10" + 5, pcall(function() return "x" + 5 end))
