-- %s with widths, precision, and non-string args
print(string.format("[%s]|[%10s]|[%-10s]|[%.3s]", "hi", "hi", "hi", "abcdef"))
print(string.format("%s %s %s %s", 1, 1.5, true, nil))
print(string.format("%5s|%-5s|", 12, 1.0))
local obj = setmetatable({}, {__tostring = function() return "OBJ" end})
print(string.format("<%s>", obj))
print(string.format("%s", "a\0b") == "a\0b")
print(pcall(string.format, "%d", "x"))
print(pcall(string.format, "%s"))
