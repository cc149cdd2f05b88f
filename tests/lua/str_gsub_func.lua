-- gsub with function and table replacement
local vars = {name = "Lua", ver = "5.4"}
print(string.gsub("$name is $ver and $unknown", "%$(%w+)", vars))
print(string.gsub("1 2 3", "%d", function(d) return d * 2 end))
print(string.gsub("a b c", "%a", function(c) if c == "b" then return nil end return c:upper() end))
print(string.gsub("a b c", "%a", function(c) return false end))
print(string.gsub("key=val, k2=v2", "(%w+)=(%w+)", function(k, v) return v .. "=" .. k end))
print(string.gsub("abc", "%w", {a = 1, b = false}))
print(pcall(string.gsub, "abc", "%w", {a = true}))
print(pcall(string.gsub, "abc", "%w", function() return {} end))
print(string.gsub("hello", "l+", function(m) return #m end))
