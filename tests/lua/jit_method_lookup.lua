-- Method calls (`obj:name()`) in hot loops: tier 2 looks methods up inline
-- through the object's own hash part and the inherited-lookup cache, and
-- leaves every other case to the runtime. Each phase below takes one of
-- those other paths after the inline one has been warm.

local function class(parent)
  local c = {}
  c.__index = c
  if parent then setmetatable(c, { __index = parent }) end
  return c
end

local Base = class(nil)
function Base:value() return 1 end
function Base:name() return "base" end
local Mid = class(Base)
function Mid:value() return 2 end
local Leaf = class(Mid)
function Leaf:name() return "leaf" end

local function new(c, fields)
  return setmetatable(fields or {}, c)
end

-- Objects of three classes at one call site, with own fields of varied
-- counts so the own-part probe crosses occupied slots.
local objs = {}
for i = 1, 60 do
  local fields = {}
  for j = 1, i % 7 do fields["f" .. j] = j end
  local c = (i % 3 == 0) and Base or ((i % 3 == 1) and Mid or Leaf)
  objs[i] = new(c, fields)
end

local function sum(list, rounds)
  local s, names = 0, {}
  for _ = 1, rounds do
    for i = 1, #list do
      local o = list[i]
      s = s + o:value()
      names[o:name()] = (names[o:name()] or 0) + 1
    end
  end
  local keys = {}
  for k in pairs(names) do keys[#keys + 1] = k end
  table.sort(keys)
  local out = {}
  for _, k in ipairs(keys) do out[#out + 1] = k .. "=" .. names[k] end
  return s, table.concat(out, " ")
end

print("warm", sum(objs, 400))
print("warm more", sum(objs, 3000))

-- A method stored in the object itself shadows the class's.
objs[5].value = function() return 100 end
print("own method", sum(objs, 50))
objs[5].value = nil
print("own removed (dead entry)", sum(objs, 50))

-- A class method redefined: cached lookups must not survive it.
function Mid:value() return 20 end
print("redefined in class", sum(objs, 50))
function Base:value() return 10 end
print("redefined in base", sum(objs, 50))

-- A metatable swapped under a live object.
setmetatable(objs[7], Leaf)
print("metatable swapped", sum(objs, 50))

-- An __index function instead of a table.
local Dyn = setmetatable({}, { __index = function(_, k) return function() return k == "value" and 7 or "dyn" end end })
Dyn.__index = Dyn
objs[9] = setmetatable({}, Dyn)
print("__index function", sum(objs, 50))

-- Strings have methods too (through their metatable).
local function shout(list, rounds)
  local n = 0
  for _ = 1, rounds do
    for i = 1, #list do n = n + #(list[i]:upper()) + list[i]:len() end
  end
  return n
end
print("string receiver", shout({ "ab", "cde", "" }, 2000))

-- Errors: a missing method, a receiver without a metatable, a nil receiver.
local function call_missing(o) return o:nope() end
for _, o in ipairs({ objs[1], {}, 5 }) do
  local ok, err = pcall(call_missing, o)
  print("missing", ok, err)
end
local ok, err = pcall(function() local o; return o:value() end)
print("nil receiver", ok, err)

-- The method's receiver register reused as the result (`o = o:next()`).
local Node = class(nil)
function Node:next() return self.link end
local head = new(Node, {})
local cur = head
for i = 1, 50 do
  local n = new(Node, { id = i })
  cur.link = n
  cur = n
end
local count = 0
for _ = 1, 300 do
  local o = head
  while o do
    count = count + 1
    o = o:next()
  end
end
print("chain walk", count)
