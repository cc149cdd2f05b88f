-- find with plain flag and init past end, negative init
local s = "a+b=c (d) [e] %f"
print(s:find("+", 1, true), s:find("(d)", 1, true), s:find("[e]", 1, true), s:find("%f", 1, true))
print(s:find("=", -5, true), s:find("a", -100, true), s:find("", 100, true))
print(("abc"):find("c", 4, true), ("abc"):find("", 4, true), ("abc"):find("", 5, true))
print(("aaa"):find("aa", 2, true))
print(("x"):find("x", 1, false))
