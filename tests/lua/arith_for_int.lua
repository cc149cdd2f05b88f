-- numeric for with integers, steps, negative steps
for i = 1, 5 do io.write(i, " ") end print()
for i = 10, 1, -3 do io.write(i, " ") end print()
for i = 1, 0 do io.write("never") end print("empty")
for i = 1, 10, 4 do io.write(i, " ") end print()
for i = -3, 3, 2 do io.write(i, " ") end print()
for i = 5, 5 do io.write(i, " ") end print()
for i = 1, 3 do local j = i * 2; io.write(j, " ") end print()
for i = 1, 2.5 do io.write(math.type(i), " ") end print()
