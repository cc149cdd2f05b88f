-- regression (third differential probing round): len_numeric_string_tablelib
local p = setmetatable({}, {__len = function() return "2" end})
print(#p)
print(pcall(table.insert, p, "x"))
print(pcall(table.unpack, p))
