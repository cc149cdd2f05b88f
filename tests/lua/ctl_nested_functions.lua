-- deeply nested function calls and tail calls
local function depth(n) if n == 0 then return "bottom" end return depth(n - 1) end
print(depth(10000))
local function sum(n, acc) if n == 0 then return acc end return sum(n - 1, acc + n) end
print(sum(100000, 0))
local function a(x) return x + 1 end
local function b(x) return a(a(x)) end
local function c(x) return b(b(x)) end
print(c(0))
