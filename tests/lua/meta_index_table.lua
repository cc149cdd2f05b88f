-- __index as a table provides defaults
local defaults = {color = "red", size = 10}
local obj = setmetatable({size = 3}, {__index = defaults})
print(obj.color, obj.size, obj.missing)
defaults.missing = "now present"
print(obj.missing)
obj.color = "blue"
print(obj.color, defaults.color, rawget(obj, "color"))
