-- Arithmetic where integers meet floats at one site (`i * 0.5`, `x / n`,
-- `a + b` with a float and an int): tier 1 converts the integer inline.
-- Every line must match lua5.4, including the switches between integer,
-- float, mixed, string and metamethod operands at the same site.

local function scale(x) return x * 0.25 end
local function half(x) return 0.5 * x end
local function add(a, b) return a + b end
local function sub(a, b) return a - b end
local function mul(a, b) return a * b end
local function div(a, b) return a / b end
local function idiv(a, b) return a // b end

local acc = 0.0
for i = 1, 3000 do
  acc = acc + scale(i) + half(i) + div(i, 7.0) + idiv(i, 2.5)
end
print(string.format("%.6f", acc))

-- One site sees int+int (stays an integer), then int+float, float+int,
-- float+float, then ints again.
local kinds = {}
for i = 1, 2500 do
  local a, b
  local m = i % 5
  if m == 0 then a, b = i, i + 1
  elseif m == 1 then a, b = i, i + 0.5
  elseif m == 2 then a, b = i + 0.25, i
  elseif m == 3 then a, b = i * 1.0, 2.0
  else a, b = -i, 3 end
  local s, d, p = add(a, b), sub(a, b), mul(a, b)
  if i > 2490 then print(i, s, math.type(s), d, math.type(d), p, math.type(p)) end
  kinds[math.type(s)] = (kinds[math.type(s)] or 0) + 1
end
print("integer sums", kinds.integer, "float sums", kinds.float)

-- Integers that floats cannot hold exactly, negative zero, infinities.
local big = math.maxinteger
print(add(big, 0.0), sub(big, 1.0), mul(2^53 + 1, 1.0) == 2^53)
print(mul(-1, 0.0), 1 / mul(-1, 0.0), div(1, 0.0), div(-1, 0.0), div(0, 0.0) ~= div(0, 0.0))
print(idiv(7, 2.0), idiv(-7, 2.0), idiv(7, -0.5), math.type(idiv(7, 2.0)))

-- Strings convert on the slow path, at a site that was mixed before.
for i = 1, 2100 do scale(i) end
print(scale("10"), scale("0x10"), add("1", 0.5), add(2, "0.5"))
print(pcall(scale, "abc"))
print(pcall(add, {}, 1.5))

-- A metamethod at a site that ran mixed numbers.
local V = setmetatable({}, {__mul = function(a, b) return "V*" .. tostring(type(a) == "table" and b or a) end,
                            __add = function(k, _) return "k+V:" .. tostring(k) end})
print(scale(V), half(V), add(1.5, V))
print(scale(8), half(3), add(1, 2), add(1, 2.0))
