-- bench: integer loops: Collatz chain lengths, digit sums and digit reversal over an integer range
-- luajit: no (uses // integer division and math.type)
local LIMIT = 600000

local best_len, best_n, total = 0, 0, 0
for n = 1, LIMIT do
  local x, steps = n, 0
  while x ~= 1 do
    if x % 2 == 0 then
      x = x // 2
    else
      x = 3 * x + 1
    end
    steps = steps + 1
  end
  total = total + steps
  if steps > best_len then best_len, best_n = steps, n end
end

local digit_total, digit_max = 0, 0
for n = 1, LIMIT * 3 do
  local x, s = n, 0
  while x > 0 do
    s = s + x % 10
    x = x // 10
  end
  digit_total = digit_total + s
  if s > digit_max then digit_max = s end
end

local palindromes, rev_sum = 0, 0
for n = 1, LIMIT do
  local x, r = n, 0
  while x > 0 do
    r = r * 10 + x % 10
    x = x // 10
  end
  if r == n then palindromes = palindromes + 1 end
  rev_sum = (rev_sum + r) % 1000000007
end

print(best_n, best_len, total, digit_total, digit_max, palindromes, rev_sum, math.type(total))
