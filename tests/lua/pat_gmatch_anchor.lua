-- gmatch: a leading ^ is not an anchor (treated literally by 5.4 gmatch); init arg
for w in string.gmatch("aaa bbb", "^%a+") do io.write("[", w, "]") end print()
local n = 0
for w in string.gmatch("xa ya", "^a") do n = n + 1 end
print(n)
for w in string.gmatch("a^b^c", "^%a") do io.write("[", w, "]") end print()
for w in string.gmatch("abcabc", "bc", 3) do io.write(w, ";") end print()
for a, b in string.gmatch("k1=v1;k2=v2", "(%w+)=(%w+)") do io.write(a, b, " ") end print()
