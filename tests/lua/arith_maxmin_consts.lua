-- math constants and their types
print(math.maxinteger, math.mininteger, math.type(math.maxinteger))
print(math.huge, -math.huge, math.type(math.huge))
print(math.pi, string.format("%.15f", math.pi))
print(math.maxinteger // 2, math.mininteger // 2)
print(math.maxinteger + 1.0, math.maxinteger + 1.0 == 2^63)
