-- __newindex as function and as table
local store = {}
local proxy = setmetatable({}, {__newindex = store})
proxy.x = 1
print(rawget(proxy, "x"), store.x)
local log = {}
local t = setmetatable({existing = 0}, {__newindex = function(tbl, k, v)
  log[#log + 1] = k .. "=" .. tostring(v)
  rawset(tbl, k, v * 10)
end})
t.a = 1
t.a = 2
t.existing = 5
print(t.a, t.existing, table.concat(log, " "))
