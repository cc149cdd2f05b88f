-- regression (found by differential probing): field_name_nonconst_key
local a = {}
print(pcall(function() return a[1].x end))
local k = "z"
print(pcall(function() return a[k].x end))
