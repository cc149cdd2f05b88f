-- string escape sequences: \n \t \\ \" \x \ddd \u{} \z
local s = "a\tb\\c\"d'e"
print(s, #s)
print("\x41\x42\x43", "\65\066\0677", "\u{48}\u{49}")
print(#"\u{7FF}", #"\u{FFFF}", #"\u{10FFFF}", #"\u{7FFFFFFF}")
print(string.byte("\u{E9}", 1, -1))
local z = "abc\z
           def"
print(z)
print(#"\0\0\0", ("a\0b"):byte(2))
print('single \'quoted\'', "bell\a" == "bell\7", "\v\f\r" == "\11\12\13")
print("line1\
line2")
print("\x7a\x7A", "\1234" == "{4")
