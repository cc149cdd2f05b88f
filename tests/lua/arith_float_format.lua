-- tostring of floats (%.14g style) and integer-valued floats
print(1.0, -1.0, 100.0, 0.1, 1/3, 2/3)
print(1e15, 1e16, 1e100, 1e-5, 123456789012345.0)
print(1234567890123456.0, 0.1 + 0.2, 3.14159265358979)
print(-0.0, 0.0, 1e308 * 10, -1e308 * 10)
print(2^53, 2^63, -2^63)
print(5e-324, 1.7976931348623157e308)
print(12.5, -12.5, 1e14, 1e-4)
print(tostring(1e15), tostring(-1e15), tostring(1e+16))
