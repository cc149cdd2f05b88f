-- goto breaking out of nested loops and backward jumps
for i = 1, 3 do
  for j = 1, 3 do
    if i * j == 4 then goto done end
    io.write(i, j, " ")
  end
end
::done::
print()
local n = 0
::top::
n = n + 1
if n < 5 then goto top end
print(n)
do
  goto skip
  print("skipped")
  ::skip::
end
print("after")
