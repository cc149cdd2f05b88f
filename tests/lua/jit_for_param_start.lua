-- Numeric for loops whose start is a parameter or an upvalue: tier 2
-- guesses they are integer loops (checked once at the loop's entry) and
-- unboxes their registers. Every kind of start, limit and step must still
-- give lua5.4's iterations, values and errors.

local function down(n)
  local s = 0
  for i = n, 1, -1 do s = s * 3 % 1000003 + i end
  return s
end

local function span(lo, hi)
  local s, last = 0, nil
  for i = lo, hi do
    s = s + i
    last = i
  end
  return s, last
end

local function stepped(lo, hi, k)
  local n = 0
  for i = lo, hi, 3 do n = n + i end
  for i = hi, lo, -7 do n = n - i * k end
  return n
end

local acc = 0
for round = 1, 500 do
  acc = (acc + down(round % 50) + span(round, round + 20) + stepped(round, round * 2, 2)) % 1000003
end
print("hot", acc)

-- A float start after the loops ran hot with integers: a float loop.
print("float start", span(0.5, 4), down(3.5))
local fs = 0
for round = 1, 300 do fs = fs + span(round + 0.25, round + 3) end
print("float starts", fs)

-- An integer start with a float limit: still an integer loop, the limit
-- rounded the way lua5.4 does.
print("float limit", span(1, 4.7), span(-3, -0.5), stepped(1, 20.9, 1))

-- Limits at the ends of the integer range, and empty loops.
print("max", span(math.maxinteger - 2, math.maxinteger))
print("min", span(math.mininteger, math.mininteger + 2))
print("empty", span(5, 4), down(0), down(-3))
local big = 0
for i = math.maxinteger - 5, math.maxinteger, 2 do big = big + 1 end
print("near max by 2", big)

-- Non-numbers: the errors lua5.4 raises.
print(pcall(span, "1", 3))
print(pcall(span, {}, 3))
print(pcall(span, 1, "x"))
print(pcall(stepped, 1, 10, 0))
local function zero_step(lo) for i = lo, 10, 0 do end end
print(pcall(zero_step, 1))

-- An upvalue start that turns into a float late.
local start = 1
local function from_upvalue()
  local s = 0
  for i = start, start + 10 do s = s + i end
  return s
end
local u = 0
for round = 1, 400 do
  if round == 350 then start = 1.5 end
  u = u + from_upvalue()
end
print("upvalue start", u)
