-- regression (compiler review): case 05
local x = 1
local function f(a, b) return a + b end
local s = "x"
for i = 1, 124 do s = "f(" .. s .. ", x)" end
print(type(load("local x = 1; local function f(a, b) return a + b end; return " .. s)))
