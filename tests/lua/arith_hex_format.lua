-- formatting negative numbers as hex/octal
print(string.format("%x", -1), string.format("%X", 255), string.format("%o", 8))
print(string.format("%x", math.mininteger), string.format("%08x", 48879))
print(string.format("%#x", 255), string.format("%#o", 8))
print(string.format("%x", 3.0))
print(pcall(string.format, "%x", 3.5))
