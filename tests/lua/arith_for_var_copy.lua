-- modifying for loop variable does not affect iteration
for i = 1, 3 do
  local j = i
  i = i * 10
  io.write(j, ":", i, " ")
end
print()
local s = 0
local limit = 3
for i = 1, limit do limit = 10; s = s + i end
print(s, limit)
