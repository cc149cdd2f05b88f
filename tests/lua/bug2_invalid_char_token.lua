-- regression (second differential probing round): invalid_char_token.lua
local a, b = 1, 2
if a != b then print("different") end
