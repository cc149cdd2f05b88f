-- uncaught runtime error raised in a nested function
local function level3(t) return t.missing.field end
local function level2(t) return level3(t) + 1 end
local function level1() return level2({}) end
print("before")
level1()
print("never")
