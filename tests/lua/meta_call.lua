-- __call makes tables callable; extra args passed through
local callable = setmetatable({name = "C"}, {__call = function(self, a, b)
  return self.name, a, b
end})
print(callable(1, 2))
print(callable())
local counter = setmetatable({n = 0}, {__call = function(self) self.n = self.n + 1; return self.n end})
counter(); counter()
print(counter(), counter.n)
print(pcall(setmetatable({}, {}), 1))
local obj = {greet = setmetatable({}, {__call = function(self, who) return "hi " .. who end})}
print(obj.greet("bob"))
