-- math.floor/ceil/abs/fmod treat numeric strings as floats (lua_isinteger is false for strings)
print(math.floor(tostring(9007199254740993)), math.floor("3.7"), math.floor("-3"))
print(math.ceil("2.5"), math.abs("-3"), math.abs(-3), math.fmod("7", "3"), math.fmod(7, 3))
print(math.type(math.floor("10")), math.type(math.abs("10")), math.type(math.abs(10)))
