-- floor division on integers and floats rounds toward -inf
print(7 // 2, -7 // 2, 7 // -2, -7 // -2)
print(7.0 // 2, -7.0 // 2, 7 // -2.0, -7.5 // 2)
print(1 // 0.0, -1 // 0.0, 0.0 // 0.0 ~= 0.0 // 0.0)
print(math.type(7 // 2), math.type(7.0 // 2))
print(3 // 3, 0 // 5, -0.0 // 1)
print(5.5 // 1.5, -5.5 // 1.5)
