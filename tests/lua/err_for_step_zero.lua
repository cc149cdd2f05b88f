-- numeric for with zero step is an error
print("loop")
for i = 1, 10, 0 do print(i) end
