-- small class hierarchy: shapes with area/perimeter and polymorphism
local function class(parent)
  local c = {}
  c.__index = c
  if parent then setmetatable(c, {__index = parent}) end
  c.new = function(...) local o = setmetatable({}, c); o:init(...); return o end
  return c
end
local Shape = class()
function Shape:init(name) self.name = name end
function Shape:describe() return string.format("%s area=%.2f perim=%.2f", self.name, self:area(), self:perimeter()) end
local Rect = class(Shape)
function Rect:init(w, h) Shape.init(self, "rect"); self.w, self.h = w, h end
function Rect:area() return self.w * self.h end
function Rect:perimeter() return 2 * (self.w + self.h) end
local Square = class(Rect)
function Square:init(s) Rect.init(self, s, s); self.name = "square" end
local Circle = class(Shape)
function Circle:init(r) Shape.init(self, "circle"); self.r = r end
function Circle:area() return math.pi * self.r ^ 2 end
function Circle:perimeter() return 2 * math.pi * self.r end
local shapes = {Rect.new(3, 4), Square.new(5), Circle.new(1), Rect.new(0.5, 10)}
table.sort(shapes, function(a, b) return a:area() < b:area() end)
for _, s in ipairs(shapes) do print(s:describe()) end
local total = 0
for _, s in ipairs(shapes) do total = total + s:area() end
print(string.format("total %.4f", total))
print(getmetatable(Square.new(1)) == Square, Square.describe == Shape.describe)
