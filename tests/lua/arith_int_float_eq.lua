-- int/float equality and comparisons, incl. 2^53 and 2^63 boundaries
print(1 == 1.0, math.type(1), math.type(1.0))
local b53 = 2^53
print(9007199254740992 == b53, 9007199254740993 == b53)
print(9007199254740993 < b53, 9007199254740993 > b53)
print(9007199254740993 <= b53 + 1)
print(math.maxinteger < 2^63, math.maxinteger + 0.0 == 2^63)
print(math.maxinteger == 2^63, math.mininteger == -2^63)
print(math.mininteger < -2^63, math.mininteger <= -2^63)
print(math.maxinteger >= 2^63, math.maxinteger > 9.2233720368547e18)
print(1 < math.huge, math.mininteger > -math.huge)
print(3 < 3.5, 3 > 2.5, -1 < -0.5)
print(0/0 < 1, 1 < 0/0)
