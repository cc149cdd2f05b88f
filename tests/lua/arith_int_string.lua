-- integer vs float conversions to string
print(tostring(10), tostring(10.0), tostring(-10.0), 10 // 1.0)
print(1e15 + 0.5, 2^24, 3 * 1.0, 7.0 // 2)
print(math.maxinteger + 0.0, math.mininteger + 0.0)
print(string.format("%d", 3.0))
print(pcall(string.format, "%d", 3.1))
print(#tostring(12345), #tostring(1.5))
print(255 // 1 | 0, 2^31 // 1)
