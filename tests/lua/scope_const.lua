-- <const> locals
local limit <const> = 10
local name <const> = "fixed"
local s = 0
for i = 1, limit do s = s + i end
print(s, name, limit * 2)
local function get() return limit end
print(get())
local a <const>, b = 1, 2
b = b + a
print(a, b)
print(load("local c <const> = 1; c = 2"))
