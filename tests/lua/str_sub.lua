-- string.sub with positive, negative and out-of-range indices
local s = "abcdefgh"
print(s:sub(2, 4), s:sub(-3), s:sub(-3, -2), s:sub(5), s:sub(0))
print(s:sub(3, 2) == "", s:sub(-100, 2), s:sub(7, 100), s:sub(9) == "")
print(s:sub(1, -1), s:sub(2, -2), string.sub(s, 4, 4))
print(s:sub(math.mininteger, math.maxinteger), s:sub(-1, -1))
print(("x"):sub(2, 1) == "", s:sub(3.0, 4))
