-- conversions between integers and floats at precision limits
local big = 2^53
print(big, big + 1, big + 1 == big, math.tointeger(big + 1))
print(9007199254740993 + 0.0, math.type(9007199254740993 + 0.0))
print((2^53 + 1) // 1, math.floor(2^53 + 1.0))
print(math.floor(-2^63) == math.mininteger, math.type(math.floor(-2^63)))
print(math.ceil(2^63), math.type(math.ceil(2^63)))
print(string.format("%.1f", 2^63), string.format("%.0f", -2^63))
print(1e308 + 1e308, -(1e308 + 1e308))
