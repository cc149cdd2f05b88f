-- tostring on various types (addresses excluded)
print(tostring(nil), tostring(true), tostring(false), tostring(12), tostring(-1.25))
print(tostring("str"), type(tostring({})), type(tostring(print)))
print(tostring({}):sub(1, 6), tostring(print):sub(1, 9))
local mt = {__tostring = function(t) return "Point(" .. t.x .. ")" end}
print(tostring(setmetatable({x = 3}, mt)))
print(setmetatable({x = 4}, mt))
print(pcall(tostring))
