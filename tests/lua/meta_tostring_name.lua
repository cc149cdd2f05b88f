-- __tostring returning different strings per instance; used by table.concat? (no)
local mt = {__tostring = function(s) return "<" .. s[1] .. ">" end}
local list = {}
for i = 1, 3 do list[i] = setmetatable({i}, mt) end
local strs = {}
for i, v in ipairs(list) do strs[i] = tostring(v) end
print(table.concat(strs, " "))
print(pcall(table.concat, list, " "))
