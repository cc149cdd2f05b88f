-- __index chains across several levels
local A = {a = "A.a"}
local B = setmetatable({b = "B.b"}, {__index = A})
local C = setmetatable({c = "C.c"}, {__index = B})
local obj = setmetatable({}, {__index = C})
print(obj.a, obj.b, obj.c, obj.d)
A.d = "A.d"
print(obj.d)
B.a = "B.a overrides"
print(obj.a)
