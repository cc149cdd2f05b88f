-- error objects with fields propagate through multiple pcall layers
local E = {}
E.__index = E
E.__tostring = function(e) return "E(" .. e.code .. ")" end
local function raise(code) error(setmetatable({code = code}, E)) end
local function layer(n) if n == 0 then raise(n + 7) end return layer(n - 1) end
local ok, e = pcall(layer, 5)
print(ok, getmetatable(e) == E, e.code, tostring(e))
local results = {}
for i = 1, 3 do
  local ok2, err = pcall(raise, i)
  results[#results + 1] = tostring(err)
end
print(table.concat(results, ","))
