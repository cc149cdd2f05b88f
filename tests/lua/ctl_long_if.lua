-- long elseif ladder and nested conditions in loops
local function fizz(n)
  if n % 15 == 0 then return "FizzBuzz"
  elseif n % 5 == 0 then return "Buzz"
  elseif n % 3 == 0 then return "Fizz"
  else return tostring(n) end
end
local out = {}
for i = 1, 20 do out[i] = fizz(i) end
print(table.concat(out, " "))
local grade = function(s)
  if s >= 90 then return "A" elseif s >= 80 then return "B" elseif s >= 70 then return "C"
  elseif s >= 60 then return "D" else return "F" end
end
print(grade(95), grade(85), grade(75.5), grade(60), grade(-1))
