-- modulo follows sign of divisor, ints and floats
print(7 % 3, -7 % 3, 7 % -3, -7 % -3)
print(7.5 % 2, -7.5 % 2, 7.5 % -2, -7.5 % -2)
print(5 % math.huge, -5 % math.huge, 5 % -math.huge, -5 % -math.huge)
print(0 % 5, 0.0 % 5)
print(math.type(7 % 3), math.type(7 % 3.0))
print(3 % 0.0 ~= 3 % 0.0)
print(10 % 2.5, 1e15 % 7)
print(-0.0 % 1)
