-- pcall returns status plus results or error
print(pcall(function() return 1, 2, 3 end))
print(pcall(function() error("boom") end))
print(pcall(function() error("no position", 0) end))
print(pcall(error))
print(pcall(error, nil))
print(pcall(function(...) return select("#", ...) end, 1, nil, nil))
print(select("#", pcall(error)))
