-- single inheritance with method overriding and super calls
local Animal = {}
Animal.__index = Animal
function Animal.new(name) return setmetatable({name = name}, Animal) end
function Animal:speak() return self.name .. " makes a sound" end
function Animal:kind() return "animal" end
local Dog = setmetatable({}, {__index = Animal})
Dog.__index = Dog
function Dog.new(name, breed)
  local d = Animal.new(name)
  d.breed = breed
  return setmetatable(d, Dog)
end
function Dog:speak() return Animal.speak(self) .. " (woof)" end
local a, d = Animal.new("cat"), Dog.new("rex", "lab")
print(a:speak())
print(d:speak(), d:kind(), d.breed)
print(getmetatable(d) == Dog, rawget(Dog, "kind"))
