-- Inherited lookups (methods found through __index tables) are cached;
-- every way of changing a class chain must show at once. Each phase runs
-- long enough for its loop to be compiled.
local Base = {}
Base.__index = Base
function Base.name() return "base" end
function Base.size() return 1 end

local Mid = setmetatable({}, { __index = Base })
Mid.__index = Mid
function Mid.size() return 2 end

local obj = setmetatable({}, Mid)

local function sample(n)
  local s = {}
  for i = 1, n do s[#s + 1] = obj:name() .. obj.size() end
  return s[1] .. "/" .. s[n]
end

print("start", sample(300))
-- redefine a method of the root class (a table without a metatable, so a
-- compiled field store could write it in place)
local function redefine(i) Base.name = function() return "base" .. i end end
for i = 1, 300 do redefine(i) end
print("root redefined", sample(300))
-- shadow a parent's method in the middle class, then remove it again
Mid.name = function() return "mid" end
print("shadowed", sample(300))
Mid.name = nil
print("unshadowed", sample(300))
-- the object's own field hides everything
obj.size = function() return 9 end
print("own field", sample(300))
obj.size = nil
print("own field gone", sample(300))
-- rawset, then a new parent through setmetatable
rawset(Mid, "name", function() return "raw" end)
print("rawset", sample(300))
rawset(Mid, "name", nil)
local Other = { name = function() return "other" end, size = function() return 7 end }
setmetatable(Mid, { __index = Other })
print("reparented", sample(300))
-- change the __index field of the metatable itself
getmetatable(Mid).__index = Base
print("index swapped", sample(300))
Mid.__index = Other
print("object's index swapped", sample(300))
Mid.__index = Mid

-- a miss is cached too, and must see the key appear
local Probe = setmetatable({}, { __index = Base })
local misses = 0
for i = 1, 500 do
  if Probe.late == nil then misses = misses + 1 end
  if i == 250 then Base.late = true end
end
print("late key", misses)

-- classes made and dropped while collections run: a new table may reuse
-- a dead one's address
local total = 0
for round = 1, 200 do
  local C = { v = function() return round end }
  C.__index = C
  local o = setmetatable({}, C)
  total = total + o.v()
  if round % 20 == 0 then collectgarbage() end
end
print("gc rounds", total)
