-- closures capturing parameters and locals of different calls independently
local function adder(n) return function(x) return x + n end end
local add = {}
for i = 1, 5 do add[i] = adder(i * i) end
local r = {}
for i = 1, 5 do r[i] = add[i](100) end
print(table.concat(r, " "))
local function curry3(f) return function(a) return function(b) return function(c) return f(a, b, c) end end end end
print(curry3(function(a, b, c) return a .. b .. c end)("x")("y")("z"))
