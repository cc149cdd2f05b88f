-- linked list with iterator, reverse and map
local List = {}
List.__index = List
function List.new() return setmetatable({head = nil, n = 0}, List) end
function List:push(v) self.head = {value = v, next = self.head}; self.n = self.n + 1; return self end
function List:iter()
  local node = self.head
  return function()
    if node then local v = node.value; node = node.next; return v end
  end
end
function List:reverse()
  local prev, cur = nil, self.head
  while cur do cur.next, prev, cur = prev, cur, cur.next end
  self.head = prev
  return self
end
function List:totable() local t = {} for v in self:iter() do t[#t + 1] = v end return t end
List.__len = function(self) return self.n end
List.__tostring = function(self) return "(" .. table.concat(self:totable(), " ") .. ")" end
local l = List.new()
for i = 1, 6 do l:push(i * i) end
print(tostring(l), #l)
print(tostring(l:reverse()))
local sum = 0
for v in l:iter() do sum = sum + v end
print(sum)
