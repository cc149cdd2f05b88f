-- every arithmetic and bitwise metamethod is dispatched
local names = {"__add", "__sub", "__mul", "__div", "__mod", "__pow", "__unm", "__idiv",
  "__band", "__bor", "__bxor", "__shl", "__shr", "__bnot"}
local mt = {}
for _, n in ipairs(names) do
  mt[n] = function(a, b)
    local ta = type(a) == "table" and "T" or tostring(a)
    local tb = type(b) == "table" and "T" or tostring(b)
    return n .. "(" .. ta .. "," .. tb .. ")"
  end
end
local t = setmetatable({}, mt)
print(t + 1, 1 - t, t * t)
print(t / 2, t % 3, t ^ 4)
print(-t, t // 5, t & 6)
print(7 | t, t ~ 8, t << 9)
print(t >> 10, ~t)
