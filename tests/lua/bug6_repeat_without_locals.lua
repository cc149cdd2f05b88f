-- A repeat-until loop whose body declares no local, in a function that
-- uses every register it has: the loop's back jump once closed upvalues
-- from a register past the frame, and the bytecode verifier refused it.
local function steps(x, stop)
  repeat
    x = x + 1
  until x >= stop
  return x
end
print(steps(0, 3), steps(10, 3))

local function count(x, stop)
  local n = 0
  repeat
    x = x + 1
    n = n + 1
  until x >= stop
  return n
end
print(count(0, 5))

-- a body local captured by a closure made in the condition: each
-- iteration still gets a fresh local
local fs = {}
local i = 0
repeat
  local j = i
  i = i + 1
until (function() fs[#fs + 1] = function() return j end return i >= 3 end)()
print(fs[1](), fs[2](), fs[3]())
