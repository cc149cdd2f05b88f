-- regression (found by differential probing): call_metamethod_tailcall_level
local obj = setmetatable({}, {__call = function() error("boom", 2) end})
print(pcall(function() return obj() end))
