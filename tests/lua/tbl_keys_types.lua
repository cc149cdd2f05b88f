-- keys of different types are distinct
local t = {}
t[1] = "int"; t["1"] = "str"; t[true] = "bool"; t[1.5] = "float"
local f = function() end
t[f] = "func"
local k = {}
t[k] = "tbl"
print(t[1], t["1"], t[true], t[1.5], t[f], t[k], t[false])
print(pcall(function() t[nil] = 1 end))
print(t[nil])
t[1.0] = "replaced"
print(t[1])
