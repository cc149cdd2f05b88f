-- pcall result counts and functions returning nothing
print(select("#", pcall(function() end)))
print(select("#", pcall(function() return nil end)))
print(select("#", pcall(function() return 1, nil, nil end)))
print(select("#", pcall(error, "x")))
local ok, a, b = pcall(string.find, "hello", "l+")
print(ok, a, b)
print(pcall(math.floor, 3.7))
print(pcall(tostring, nil))
