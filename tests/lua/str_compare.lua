-- string comparison is bytewise
local words = {"banana", "Apple", "apple", "cherry", "apple pie", "", "123", "Zebra"}
table.sort(words)
for i, w in ipairs(words) do io.write("[", w, "]") end
print()
print("a" < "b", "a" <= "a", "b" > "a", "abc" >= "abd", "A" < "a")
print("\0" < "\1", "a\0" < "a\1", "" == "")
