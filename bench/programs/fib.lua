-- bench: naive recursive fibonacci (local and global) plus the Takeuchi function: call/return heavy
-- luajit: yes
local N = 36
local TX, TY, TZ = 18, 12, 6

local function fib(n)
  if n < 2 then return n end
  return fib(n - 1) + fib(n - 2)
end

-- a global function, so the recursive call goes through a global lookup
function gfib(n)
  if n < 2 then return n end
  return gfib(n - 1) + gfib(n - 2)
end

local function tak(x, y, z)
  if y >= x then return z end
  return tak(tak(x - 1, y, z), tak(y - 1, z, x), tak(z - 1, x, y))
end

-- mutual recursion
local is_odd
local function is_even(n)
  if n == 0 then return true end
  return is_odd(n - 1)
end
is_odd = function(n)
  if n == 0 then return false end
  return is_even(n - 1)
end

local a = fib(N)
local b = gfib(N - 2)
local c = tak(TX, TY, TZ)
local evens = 0
for i = 1, 3000 do
  if is_even(i % 150) then evens = evens + 1 end
end
print(string.format("fib(%d)=%d gfib(%d)=%d tak=%d evens=%d", N, a, N - 2, b, c, evens))
