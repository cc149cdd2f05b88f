-- regression (third differential probing round): c_error_gets_position_and_varname
local t = nil
print(pcall(function() return table.unpack(t) end))
print(pcall(function() return math.max("a", 1) end))
print(pcall(function() return table.sort({3, 1, "x"}) end))
