-- __index function used to synthesize methods
local obj = setmetatable({}, {__index = function(t, name)
  return function(self, ...) return name .. "(" .. select("#", ...) .. ")" end
end})
print(obj:foo(), obj:bar(1, 2), obj.baz(obj, nil))
