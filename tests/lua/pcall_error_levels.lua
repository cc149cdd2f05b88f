-- error levels 1, 2 and 0 affect position prefix
local function lvl1() error("at level 1", 1) end
local function lvl2() error("at level 2", 2) end
local function lvl0() error("no prefix", 0) end
local function caller() lvl2() end
print(pcall(lvl1))
print(pcall(caller))
print(pcall(lvl0))
local function validate(x) if type(x) ~= "number" then error("expected number", 2) end return x end
local function use() local v = validate("str") return v end
print(pcall(use))
print(pcall(function() error("default level") end))
