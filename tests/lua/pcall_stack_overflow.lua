-- runaway recursion is caught as a stack overflow error
local depth = 0
local function runaway(n) depth = depth + 1; return 1 + runaway(n + 1) end
local ok, e = pcall(runaway, 1)
print(ok, type(e), string.find(e, "stack overflow", 1, true) ~= nil, depth > 1000)
print(pcall(function() return "still works" end))
