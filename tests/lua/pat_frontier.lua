-- %f frontier pattern
print(string.gsub("THE (quick) fox", "%f[%a]%a+", "W"))
print(string.find("THE (quick) fox", "%f[%a]%a+%f[%A]"))
for w in string.gmatch("hello_world foo-bar", "%f[%w]%w+") do io.write(w, ",") end print()
print(string.gsub("the cat concatenated", "%f[%w]cat%f[%W]", "dog"))
print(string.match("aaa", "%f[a]"), string.find("xa", "%f[a]"))
print(string.find("ab", "%f[%A]"), string.find("abc", "%f[%l]"))
