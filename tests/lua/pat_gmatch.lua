-- string.gmatch iteration with and without captures
for w in string.gmatch("one two  three", "%a+") do io.write("<", w, ">") end print()
for k, v in string.gmatch("a=1, b=2, c=3", "(%w+)=(%w+)") do io.write(k, ":", v, " ") end print()
for p in string.gmatch("abc", "()") do io.write(p, " ") end print()
for d in string.gmatch("x1y22z333", "%d+") do io.write(d, "|") end print()
local count = 0
for _ in string.gmatch("", ".") do count = count + 1 end
print(count)
local it = string.gmatch("a,b", "[^,]+")
print(it(), it(), it())
for c in ("hello"):gmatch(".") do io.write(c:upper()) end print()
