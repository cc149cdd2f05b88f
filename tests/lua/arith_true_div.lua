-- '/' always yields a float
print(1 / 2, 4 / 2, -4 / 2, 3 / 3)
print(math.type(4 / 2))
print(1 / 0, -1 / 0, 1 / -0.0)
print(0 / 0 ~= 0 / 0)
print(7 / 7.0, 10 / 4, 1 / 3, 2 / 3)
print(math.maxinteger / 1)
print(-7 / 2)
