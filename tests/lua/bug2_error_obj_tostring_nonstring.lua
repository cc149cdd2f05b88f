-- regression (second differential probing round): error_obj_tostring_nonstring.lua
error(setmetatable({}, {__tostring = function() return 99 end}))
