-- mininteger // -1 and % -1 edge cases
local min = math.mininteger
print(min // -1)
print(min % -1)
print(min // 1, min % 1)
print(min // 2, min % 2)
print(min // -2, min % -2)
print(min / -1)
print(math.type(min // -1), math.type(min / -1))
