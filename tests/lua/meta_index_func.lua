-- __index as a function receives table and key
local log = {}
local t = setmetatable({present = 1}, {__index = function(tbl, k)
  log[#log + 1] = tostring(k)
  if type(k) == "number" then return k * 2 end
  return nil
end})
print(t.present, t[21], t.absent, t[1.5])
print(table.concat(log, ","))
local squares = setmetatable({}, {__index = function(s, n) local v = n * n; rawset(s, n, v); return v end})
print(squares[9], rawget(squares, 9), rawget(squares, 8))
