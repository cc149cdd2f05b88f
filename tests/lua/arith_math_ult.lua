-- math.ult unsigned comparison
print(math.ult(1, 2), math.ult(2, 1), math.ult(-1, 1), math.ult(1, -1))
print(math.ult(math.maxinteger, math.mininteger), math.ult(0, -1))
print(math.ult(5, 5))
print(pcall(math.ult, 1.5, 2))
