-- uncaught comparison of incompatible types
local items = {3, 1, "two"}
print(#items)
local smallest = items[1]
for i = 2, #items do
  if items[i] < smallest then smallest = items[i] end
end
print(smallest)
