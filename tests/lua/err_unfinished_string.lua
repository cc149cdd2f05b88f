-- syntax error: unfinished string literal
print("never printed")
local s = "abc
print(s)
