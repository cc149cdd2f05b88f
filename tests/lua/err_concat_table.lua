-- uncaught concatenation of a table
local t = {}
print("joining")
print("value: " .. t)
