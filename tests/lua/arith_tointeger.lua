-- math.tointeger and math.type
print(math.tointeger(3.0), math.tointeger(3.5), math.tointeger(3))
print(math.tointeger(2^63), math.tointeger(-2^63), math.tointeger(2^53))
print(math.tointeger(0/0), math.tointeger(math.huge))
print(math.tointeger(-0.0))
print(math.type(1), math.type(1.0), math.type("1"), math.type(nil))
print(math.type(2^31), math.type(1 // 1), math.type(1.0 // 1))
