-- bench: array tables: repeated sieve of Eratosthenes, prime list building and gap scanning
-- luajit: yes
local N = 3000000
local REPEAT = 8

local function sieve(n)
  local composite = {}
  for i = 1, n do composite[i] = false end
  local count = 0
  for i = 2, n do
    if not composite[i] then
      count = count + 1
      local j = i * i
      while j <= n do
        composite[j] = true
        j = j + i
      end
    end
  end
  return composite, count
end

local total_count = 0
local composite
for r = 1, REPEAT do
  local c
  composite, c = sieve(N + r)
  total_count = total_count + c
end

local primes = {}
for i = 2, N do
  if not composite[i] then primes[#primes + 1] = i end
end

local max_gap, gap_at, twin = 0, 0, 0
local sum = 0
for i = 2, #primes do
  local g = primes[i] - primes[i - 1]
  if g > max_gap then max_gap, gap_at = g, primes[i - 1] end
  if g == 2 then twin = twin + 1 end
end
for i = 1, #primes do sum = (sum + primes[i] * (i % 7 + 1)) % 1000000007 end

-- Goldbach partitions count for a few even numbers using a sieve lookup
local gold = 0
for n = 100000, 100400, 2 do
  for k = 1, #primes do
    local p = primes[k]
    if p > n / 2 then break end
    if not composite[n - p] then gold = gold + 1 end
  end
end

print(string.format("count=%d total=%d maxgap=%d at=%d twins=%d sum=%d goldbach=%d",
  #primes, total_count, max_gap, gap_at, twin, sum, gold))
