-- numeric for loop variable is local to the loop
local i = "outer"
for i = 1, 2 do end
print(i)
for i = 1, 3 do
  local i = i * 100
  io.write(i, " ")
end
print()
print(pcall(function() for i = 1, "x" do end end))
print(pcall(function() for i = "a", 2 do end end))
print(pcall(function() for i = 1, 2, 0 do end end))
