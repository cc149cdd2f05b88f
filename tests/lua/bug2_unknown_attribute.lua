-- regression (second differential probing round): unknown_attribute.lua
local x <foo> = 1
