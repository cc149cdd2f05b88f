-- integer algorithms: gcd, lcm, pow mod
local function gcd(a, b) while b ~= 0 do a, b = b, a % b end return a end
local function lcm(a, b) return a // gcd(a, b) * b end
print(gcd(48, 18), gcd(17, 5), gcd(0, 9), lcm(4, 6), lcm(21, 6))
local function powmod(b, e, m)
  local r = 1
  b = b % m
  while e > 0 do
    if e & 1 == 1 then r = r * b % m end
    b = b * b % m
    e = e >> 1
  end
  return r
end
print(powmod(2, 100, 1000000007), powmod(3, 200, 13), powmod(7, 0, 5))
local acc = 1
for i = 1, 20 do acc = lcm(acc, i) end
print(acc)
