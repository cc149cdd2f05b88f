-- uncaught error raised inside an __index metamethod
local t = setmetatable({}, {__index = function(_, k) error("no key " .. k) end})
print(rawget(t, "a"))
print(t.a)
