-- variadic numeric helpers
local function sum(...)
  local s = 0
  for i = 1, select("#", ...) do s = s + (select(i, ...)) end
  return s
end
local function avg(...) local n = select("#", ...) if n == 0 then return nil end return sum(...) / n end
print(sum(), sum(1), sum(1, 2, 3, 4.5))
print(avg(), avg(2, 4), avg(1, 2))
local function minmax(first, ...)
  local mn, mx = first, first
  for _, v in ipairs({...}) do if v < mn then mn = v end if v > mx then mx = v end end
  return mn, mx
end
print(minmax(5, 3, 9, -1, 7))
