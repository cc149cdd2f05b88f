-- regression (found by differential probing): len_metamethod_second_arg
print(#setmetatable({}, {__len = function(a, b) return type(b) end}))
