-- regression (second differential probing round): malformed_number.lua
local population = 12monkeys
