-- main chunk receives script arguments as ... (none here)
print(select("#", ...))
local args = {...}
print(#args)
print(type(arg), #arg)
