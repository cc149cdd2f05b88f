-- __metatable field protects and hides the metatable
local t = setmetatable({}, {__metatable = "locked", __index = {k = "v"}})
print(getmetatable(t), t.k)
print(pcall(setmetatable, t, {}))
local u = setmetatable({}, {__metatable = false})
print(getmetatable(u))
print(pcall(setmetatable, u, nil))
print(getmetatable("abc") == getmetatable("xyz"))
