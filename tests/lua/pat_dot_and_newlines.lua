-- dot matches any char including newline and NUL
print(#string.match("a\nb", "a.b"), string.match("a\0b", "a(.)b") == "\0")
local text = "line one\nline two\nline three"
for line in text:gmatch("[^\n]+") do io.write("{", line, "}") end print()
print(select(2, text:gsub("\n", "\n")))
print(string.find("ab\0cd", "\0", 1, true), string.find("ab\0cd", "%c"))
