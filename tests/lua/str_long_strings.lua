-- long bracket strings and comments
local a = [[hello
world]]
print(a, #a)
local b = [==[contains ]] and ]=] inside]==]
print(b)
local c = [[
skip first newline]]
print(c)
print([[no \n escapes \t here]])
--[[ block comment
print("not printed")
]]
--[==[ another ]] one
]==]
print("after comments")
print(#[[]], [[a]] .. [=[b]=])
