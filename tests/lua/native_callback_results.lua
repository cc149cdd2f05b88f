-- Natives and metamethods that call a Lua function for one value (a sort
-- comparator, __index / __lt / __add / __call handlers, gsub's function,
-- tostring's __tostring) take its first result, nil when it returns none,
-- in every tier. Compiled callees return to them by the common return.

local none = function() end
local two = function(a, b) return b, a end
local many = function(...) return ... end

-- __index functions returning none, one, several results
local mt_none = setmetatable({}, { __index = function(t, k) return none() end })
local mt_two = setmetatable({}, { __index = function(t, k) return k .. "!", "extra" end })
local mt_many = setmetatable({}, { __index = function(t, k) return many(k, k, k) end })

-- comparison and arithmetic metamethods
local V = {}
V.__lt = function(a, b) return a.v < b.v, "ignored" end
V.__le = function(a, b) return many(a.v <= b.v) end
V.__add = function(a, b) return setmetatable({ v = a.v + b.v }, V), 99 end
V.__call = function(self, x) return self.v * x, self.v end
V.__tostring = function(self) return "V(" .. self.v .. ")" end
local function v(x) return setmetatable({ v = x }, V) end

local function round()
  local acc = 0
  for i = 1, 300 do
    local a, b = v(i % 7), v(i % 5)
    if a < b then acc = acc + 1 end
    if a <= b then acc = acc + 10 end
    acc = acc + (a + b).v + a(2)
    if mt_none[i] == nil then acc = acc + 100 end
    acc = acc + #mt_two[i]
    acc = acc + mt_many[i]
  end
  return acc
end
for _ = 1, 30 do round() end
print("round", round())

-- sort comparators returning several values, none (never less), a number
local t = {}
for i = 1, 200 do t[i] = (i * 37) % 101 end
table.sort(t, function(a, b) return a < b, "x", "y" end)
print(t[1], t[2], t[100], t[200])
local u = { 5, 1, 4 }
table.sort(u, function(a, b) return two(a < b, false) == false and a > b end)
print(u[1], u[2], u[3])
local w = { 3, 2, 1 }
table.sort(w, function() end)
print(#w)

-- gsub with a function replacement returning several values / none
print((string.gsub("abc", "%w", function(c) return c:upper(), "z" end)))
print((string.gsub("abc", "%w", function(c) end)))
print(tostring(v(4)), tostring(v(5) + v(6)))

-- pcall of a function returning many values keeps them all
print(pcall(many, 1, 2, 3))
print(select("#", pcall(none)))

-- Errors inside callbacks keep lua5.4's messages and positions.
print(pcall(table.sort, { 3, 1, 2 }, function(a, b) error("cmp failed") end))
print(pcall(table.sort, { 3, 1, 2 }, function(a, b) return a.x < b end))
local bad = setmetatable({}, { __index = function(t, k) return k + 1 end })
print(pcall(function() return bad.name end))
print(bad[41])
-- __index functions nesting through each other until the C stack gives out.
local deep
deep = setmetatable({}, { __index = function(t, k) return deep[k] end })
local ok, msg = pcall(function() return deep.x end)
print(ok, (tostring(msg):gsub("^.-:%d+: ", "")))
