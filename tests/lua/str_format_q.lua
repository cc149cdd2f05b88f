-- %q quoting of strings, integers, floats
print(string.format("%q", 'he said "hi"\n\tand left\\'))
print(string.format("%q", "nul\0byte\1\2\0031"))
print(string.format("%q", "\r\27[x"))
print(string.format("%q", 42), string.format("%q", math.mininteger))
print(string.format("%q", 1/0), string.format("%q", -1/0), string.format("%q", 0/0))
print(string.format("%q", math.maxinteger), string.format("%q", -5))
print(#string.format("%q", "\200\255"), string.format("%q", "tab\there\r\n"))
