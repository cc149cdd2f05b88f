-- regression (code review): require keeps its loader data rooted across a tail-calling module
-- require keeps the loader-data string only in a Rust local while the module runs
local v, data = require("mod_rmod05")
local fresh = "./" .. "mod_rmod05.lua"          -- re-interned: a new object if the old one was freed
print(v, data == fresh, data)
