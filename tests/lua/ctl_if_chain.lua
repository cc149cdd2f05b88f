-- if/elseif/else chains and truthiness
local function classify(n)
  if n < 0 then return "neg"
  elseif n == 0 then return "zero"
  elseif n < 10 then return "small"
  else return "big" end
end
print(classify(-5), classify(0), classify(3), classify(50))
for _, v in ipairs({0, "", false, "x"}) do
  if v then io.write("T ") else io.write("F ") end
end
print()
if nil then print("no") elseif false then print("no") else print("else") end
local x = 5
if x > 3 then if x > 4 then print("nested") end end
