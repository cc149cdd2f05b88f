-- Tier 2 guesses an array read's type from the arithmetic that consumes
-- it, looking past arithmetic on other registers in between
-- (`c[j] + x * b[j]` multiplies before it adds). The guess must deopt
-- cleanly when the element turns out to be an integer, a string or nil.
local function axpy(c, b, x, n)
  for j = 1, n do
    c[j] = c[j] + x * b[j]
  end
end
local n = 64
local c, b = {}, {}
for j = 1, n do c[j] = 0.0; b[j] = j * 0.5 end
for round = 1, 3000 do
  axpy(c, b, 0.25, n)
  if round == 2000 then c[10] = 7 end        -- an integer element
  if round == 2500 then c[20] = "1.5" end    -- a string: arithmetic coerces it
end
local s = 0.0
for j = 1, n do s = s + c[j] end
print(string.format("%.4f", s), math.type(c[10]), math.type(c[20]))
-- an integer accumulator read the same way
local acc = {}
for j = 1, n do acc[j] = j end
local function scale(t, k, m)
  for j = 1, m do t[j] = t[j] + k * 2 - 1 end
end
for round = 1, 2000 do scale(acc, round % 3, n) end
print(acc[1], acc[n], math.type(acc[n]))
acc[5] = nil
print(pcall(scale, acc, 1, n))
