-- bitwise metamethods on a bitset type
local B = {}
local function bs(v) return setmetatable({v = v}, B) end
B.__band = function(a, b) return bs(a.v & b.v) end
B.__bor = function(a, b) return bs(a.v | b.v) end
B.__bxor = function(a, b) return bs(a.v ~ b.v) end
B.__bnot = function(a) return bs(~a.v & 0xFF) end
B.__shl = function(a, n) return bs((a.v << n) & 0xFF) end
B.__shr = function(a, n) return bs(a.v >> n) end
B.__tostring = function(a) local s = "" for i = 7, 0, -1 do s = s .. ((a.v >> i) & 1) end return s end
local x, y = bs(0xAC), bs(0x0F)
print(tostring(x & y), tostring(x | y), tostring(x ~ y), tostring(~x), tostring(x << 2), tostring(x >> 3))
print(pcall(function() return x & 1.5 end))
