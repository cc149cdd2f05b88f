-- rawget rawset rawequal rawlen bypass metamethods
local mt = {__index = function() return "dflt" end, __newindex = function() error("blocked") end,
  __len = function() return 99 end, __eq = function() return true end}
local t = setmetatable({}, mt)
print(t.x, rawget(t, "x"))
rawset(t, "x", 1)
print(t.x, rawget(t, "x"))
print(#t, rawlen(t), rawlen("abcd"))
local u = setmetatable({}, mt)
print(t == u, rawequal(t, u), rawequal(t, t), rawequal("a", "a"))
print(pcall(function() t.y = 2 end))
print(rawset(t, 1, "one") == t, t[1])
print(pcall(rawlen, 5))
