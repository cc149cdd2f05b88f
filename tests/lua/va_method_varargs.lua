-- methods with varargs and self
local obj = {name = "o"}
function obj:info(...) return self.name, select("#", ...), ... end
print(obj:info())
print(obj:info(1, 2))
print(obj.info(obj, "x"))
local function apply(o, m, ...) return o[m](o, ...) end
print(apply(obj, "info", "y", "z"))
