-- short-circuit and/or return operands
print(1 and 2, nil and 2, false and error("x"), 1 or error("x"), nil or "d", false or false)
local calls = 0
local function f(v) calls = calls + 1 return v end
local r = f(false) and f(true) or f("fallback")
print(r, calls)
print(nil == false, not nil, not 0, not "")
local t = {}
local v = t.missing or "default"
print(v)
print((nil or false) == false, false and nil)
