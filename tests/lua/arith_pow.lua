-- exponentiation always yields float
print(2 ^ 10, 2 ^ 0.5, 2 ^ -1, (-2) ^ 2, -2 ^ 2)
print(math.type(2 ^ 2))
print(2 ^ 53, 2 ^ 63, 2 ^ 64)
print(10 ^ 15, 10 ^ 16, 10 ^ -5)
print(0 ^ 0, 0 ^ -1, (-8) ^ (1/3) ~= (-8) ^ (1/3))
print(2 ^ 3 ^ 2)
print(math.huge ^ 0, 1 ^ math.huge)
