-- __len metamethod
local t = setmetatable({1, 2, 3}, {__len = function(self) return 42 end})
print(#t, rawlen(t))
local s = setmetatable({}, {__len = function() return "not a number" end})
print(#s)
local counted = setmetatable({}, {__len = function(self) local c = 0 for _ in pairs(self) do c = c + 1 end return c end})
counted.a = 1; counted.b = 2
print(#counted)
