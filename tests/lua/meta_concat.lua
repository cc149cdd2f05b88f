-- __concat with tables on either side (one metamethod call per expression)
local mt = {}
mt.__concat = function(a, b)
  local sa = type(a) == "table" and a.s or a
  local sb = type(b) == "table" and b.s or b
  return setmetatable({s = sa .. sb}, mt)
end
local A = setmetatable({s = "A"}, mt)
local r1 = "y" .. A
local r2 = A .. r1
local r3 = "x" .. r2
print(r1.s, r2.s, r3.s)
print((A .. 1).s, (2 .. A).s, (A .. A).s)
print(pcall(function() local t = {} return t .. "s" end))
