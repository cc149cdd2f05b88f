-- regression (found by differential probing): c_error_position
print(pcall(function() rawset({}, nil, 1) end))
print(pcall(function() next({}, "nokey") end))
