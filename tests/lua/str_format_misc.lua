-- string.format argument handling and method syntax
print(("%d items"):format(3), ("%s-%s"):format("a", "b"))
print(string.format("no directives"))
print(string.format("%5.2s|", "abc"))
print(string.format("%c", 65) .. string.format("%c", 0):len())
print(pcall(string.format, "%y", 1))
print(pcall(string.format, "%d"))
print(string.format("%-5d|%-5s|%5.1f", 1, "x", 2.25))
print(string.format("%s", 12):len())
