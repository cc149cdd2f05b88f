-- numeric literals: hex, exponent, large literal conversion
print(0x10, 0xff, 0XA, 0x7fffffffffffffff, 0xffffffffffffffff)
print(0x10000000000000000, 1e2, 1E-2, .5, 5., 3e0)
print(9223372036854775807, 9223372036854775808, -9223372036854775808)
print(math.type(9223372036854775808), math.type(0xffffffffffffffff))
print(0x1p4, 0x.8, 0xA.8p1)
print(1000000000000000000000)
print(00012, 1.5e+3)
