-- A table used as a plain array and record for a long time gets a
-- metatable mid-loop: __index, __newindex and __add must now run.
local t = {}
for i = 1, 100 do t[i] = i end
local log = {}
local s = 0
for i = 1, 3000 do
  local k = (i % 100) + 1
  if i > 2000 then k = (i % 120) + 1 end
  if i == 2000 then
    setmetatable(t, {
      __index = function(_, key) return -key end,
      __newindex = function(tt, key, v) log[#log + 1] = key; rawset(tt, key, v) end,
    })
  end
  s = s + t[k]
  if i > 2900 then t[200 + i % 3] = i end
end
print(s, #log, log[1], log[#log])
local V = {}
V.__index = V
local function vadd(a, b) return a + b end
local acc = 0
for i = 1, 3000 do acc = vadd(acc, i) end
local mt = {__add = function(a, b) return "added" end}
local obj = setmetatable({}, mt)
print(acc, vadd(obj, 1), vadd(1, obj))
