-- loading larger chunks with functions and loops
local src = [[
local function fib(n) if n < 2 then return n end return fib(n-1) + fib(n-2) end
local out = {}
for i = 1, 10 do out[#out+1] = fib(i) end
return table.concat(out, " ")
]]
print(load(src)())
local exprs = {"1 + 1", "2 ^ 10", "'a' .. 'b'", "#'hello'", "10 // 3", "not nil"}
for _, e in ipairs(exprs) do print(e, load("return " .. e)()) end
