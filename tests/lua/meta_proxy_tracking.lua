-- proxy table that logs every read and write
local function track(t)
  local log = {}
  local proxy = setmetatable({}, {
    __index = function(_, k) log[#log + 1] = "get " .. tostring(k); return t[k] end,
    __newindex = function(_, k, v) log[#log + 1] = "set " .. tostring(k) .. "=" .. tostring(v); t[k] = v end,
    __len = function() return #t end,
  })
  return proxy, log
end
local p, log = track({10, 20})
p[3] = p[1] + p[2]
p.name = "x"
local n = #p
print(p[3], n, rawget(p, 3))
print(table.concat(log, "; "))
