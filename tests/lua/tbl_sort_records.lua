-- sorting records by multiple keys (total order)
local people = {
  {name = "ann", age = 31}, {name = "bob", age = 25}, {name = "cid", age = 31},
  {name = "dee", age = 19}, {name = "eve", age = 25}, {name = "fay", age = 40},
}
table.sort(people, function(a, b)
  if a.age ~= b.age then return a.age < b.age end
  return a.name < b.name
end)
for _, p in ipairs(people) do io.write(p.name, "(", p.age, ") ") end
print()
local big = {}
for i = 1, 200 do big[i] = (i * 7919) % 211 end
table.sort(big)
local ok = true
for i = 2, #big do if big[i - 1] > big[i] then ok = false end end
print(ok, big[1], big[200], #big)
