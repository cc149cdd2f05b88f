-- relational operators on numbers and strings
print(1 < 2, 2 <= 2, 3 > 2, 3 >= 4, 1 ~= 1.0)
print("a" < "b", "abc" < "abd", "Z" < "a", "" < "a", "a" < "aa")
print("10" < "9", "a\0b" < "a\0c", "a\0" > "a")
print(pcall(function() return 1 < "2" end))
print(pcall(function() return {} < {} end))
print(pcall(function() return nil < 1 end))
print(1 == "1", "abc" == "abc", nil == false)
print(math.huge > math.maxinteger, -math.huge < math.mininteger)
