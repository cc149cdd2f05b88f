-- string.format integer directives
print(string.format("%d|%5d|%-5d|%05d", 42, 42, 42, 42))
print(string.format("%i|%+d|% d|%d", -7, 7, 7, math.mininteger))
print(string.format("%x|%X|%o|%c%c", 255, 255, 8, 72, 105))
print(string.format("%d", 2^31), string.format("%5.3d", 7))
print(string.format("%%|%d%%", 50))
print(string.format("%3d|%-3d|", 12345, 12345))
print(string.format("%d", "10"), string.format("%d", -0))
