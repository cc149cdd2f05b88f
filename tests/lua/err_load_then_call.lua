-- error thrown by loaded chunk propagates uncaught
local f = load("local x = ... ; if x > 1 then error('too big: ' .. x) end return x", "=loaded")
print(f(1))
print(f(5))
