-- __tostring used by print and tostring
local P = {}
P.__tostring = function(p) return "P<" .. p.id .. ">" end
local a = setmetatable({id = 1}, P)
print(a)
print(tostring(a), #tostring(a))
print(("%s|%s"):format(a, setmetatable({id = 2}, P)))
local plain = setmetatable({}, {})
print(type(tostring(plain)), tostring(plain):sub(1, 7))
