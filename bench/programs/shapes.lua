-- bench: metatable OOP: class hierarchy via __index chains, polymorphic area/perimeter call sites in one loop
-- luajit: yes
local ROUNDS = 8500
local COUNT = 1000

local function class(parent)
  local c = {}
  c.__index = c
  if parent then setmetatable(c, { __index = parent }) end
  c.new = function(...)
    local o = setmetatable({}, c)
    o:init(...)
    return o
  end
  return c
end

local Shape = class(nil)
function Shape:init(name) self.name = name; self.scale = 1.0 end
function Shape:grow(k) self.scale = self.scale * k end
function Shape:weighted() return self:area() * 2.0 + self:perimeter() end
function Shape:kind() return self.name end
Shape.__tostring = function(s) return string.format("%s(area=%.2f)", s.name, s:area()) end

local Circle = class(Shape)
Circle.__tostring = Shape.__tostring
function Circle:init(r) Shape.init(self, "circle"); self.r = r end
function Circle:area() local r = self.r * self.scale; return math.pi * r * r end
function Circle:perimeter() return 2.0 * math.pi * self.r * self.scale end

local Rect = class(Shape)
Rect.__tostring = Shape.__tostring
function Rect:init(w, h) Shape.init(self, "rect"); self.w = w; self.h = h end
function Rect:area() return self.w * self.h * self.scale * self.scale end
function Rect:perimeter() return 2.0 * (self.w + self.h) * self.scale end

local Square = class(Rect)
Square.__tostring = Shape.__tostring
function Square:init(s) Rect.init(self, s, s); self.name = "square" end

local Triangle = class(Shape)
Triangle.__tostring = Shape.__tostring
function Triangle:init(a, b, c) Shape.init(self, "triangle"); self.a = a; self.b = b; self.c = c end
function Triangle:perimeter() return (self.a + self.b + self.c) * self.scale end
function Triangle:area()
  local s = (self.a + self.b + self.c) / 2
  local k = self.scale * self.scale
  return math.sqrt(s * (s - self.a) * (s - self.b) * (s - self.c)) * k
end

local Ellipse = class(Shape)
Ellipse.__tostring = Shape.__tostring
function Ellipse:init(a, b) Shape.init(self, "ellipse"); self.a = a; self.b = b end
function Ellipse:area() return math.pi * self.a * self.b * self.scale * self.scale end
function Ellipse:perimeter()
  local a, b = self.a * self.scale, self.b * self.scale
  return math.pi * (3 * (a + b) - math.sqrt((3 * a + b) * (a + 3 * b)))
end

local Polygon = class(Shape)
Polygon.__tostring = Shape.__tostring
function Polygon:init(n, side) Shape.init(self, "polygon"); self.n = n; self.side = side end
function Polygon:perimeter() return self.n * self.side * self.scale end
function Polygon:area()
  local s = self.side * self.scale
  return self.n * s * s / (4 * math.tan(math.pi / self.n))
end
-- a subclass overriding a base-class method
function Polygon:weighted() return Shape.weighted(self) + self.n end

local shapes = {}
for i = 1, COUNT do
  local k = i % 6
  local v = (i % 17) + 1
  if k == 0 then shapes[i] = Circle.new(v * 0.5)
  elseif k == 1 then shapes[i] = Rect.new(v, v + 2)
  elseif k == 2 then shapes[i] = Square.new(v * 0.75)
  elseif k == 3 then shapes[i] = Triangle.new(v + 3, v + 4, v + 5)
  elseif k == 4 then shapes[i] = Ellipse.new(v, v * 0.5 + 1)
  else shapes[i] = Polygon.new(5 + i % 4, v * 0.3) end
end

local total_area, total_perim, total_w = 0.0, 0.0, 0.0
local kinds = {}
for r = 1, ROUNDS do
  for i = 1, COUNT do
    local s = shapes[i]
    total_area = total_area + s:area()
    total_perim = total_perim + s:perimeter()
    if i % 4 == 0 then total_w = total_w + s:weighted() end
  end
  if r % 1000 == 0 then
    for i = 1, COUNT, 3 do shapes[i]:grow(1.001) end
  end
end
for i = 1, 6 do kinds[i] = shapes[i]:kind() end
print(string.format("area=%.6f perimeter=%.6f weighted=%.6f", total_area, total_perim, total_w))
print(table.concat(kinds, ","), tostring(shapes[1]), tostring(shapes[4]))
