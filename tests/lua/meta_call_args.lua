-- __call with varargs and multiple returns; callable as iterator
local mt = {__call = function(self, ...) return select("#", ...), ... end}
local f = setmetatable({}, mt)
print(f(), f(nil), f(1, nil, 3))
local iter = setmetatable({i = 0}, {__call = function(self)
  self.i = self.i + 1
  if self.i <= 3 then return self.i end
end})
for v in iter do io.write(v, " ") end print()
