-- bench: metamethod-heavy value types: rationals (__add/__sub/__mul/__div/__unm/__eq/__lt/__le) and vectors (__index/__newindex/__len/__call/__concat/__tostring)
-- luajit: no (uses // integer division, integer-exact rationals and table.move)
local ROUNDS = 7500

local function gcd(a, b)
  if a < 0 then a = -a end
  if b < 0 then b = -b end
  while b ~= 0 do a, b = b, a % b end
  return a
end

local Rat = {}
Rat.__index = Rat
local function rat(n, d)
  d = d or 1
  if d < 0 then n, d = -n, -d end
  local g = gcd(n, d)
  if g > 1 then n, d = n // g, d // g end
  return setmetatable({ n = n, d = d }, Rat)
end
local function lift(x)
  if type(x) == "number" then return rat(x, 1) end
  return x
end
Rat.__add = function(a, b) a, b = lift(a), lift(b); return rat(a.n * b.d + b.n * a.d, a.d * b.d) end
Rat.__sub = function(a, b) a, b = lift(a), lift(b); return rat(a.n * b.d - b.n * a.d, a.d * b.d) end
Rat.__mul = function(a, b) a, b = lift(a), lift(b); return rat(a.n * b.n, a.d * b.d) end
Rat.__div = function(a, b) a, b = lift(a), lift(b); return rat(a.n * b.d, a.d * b.n) end
Rat.__unm = function(a) return rat(-a.n, a.d) end
Rat.__eq = function(a, b) return a.n == b.n and a.d == b.d end
Rat.__lt = function(a, b) a, b = lift(a), lift(b); return a.n * b.d < b.n * a.d end
Rat.__le = function(a, b) a, b = lift(a), lift(b); return a.n * b.d <= b.n * a.d end
Rat.__tostring = function(a) return a.d == 1 and tostring(a.n) or (a.n .. "/" .. a.d) end
Rat.__concat = function(a, b) return tostring(a) .. tostring(b) end

local Vec = {}
local axis = { x = 1, y = 2, z = 3 }
local methods = {}
Vec.__index = function(v, k)
  local i = axis[k]
  if i then return rawget(v, i) end
  return methods[k]
end
Vec.__newindex = function(v, k, val)
  local i = axis[k]
  if i then rawset(v, i, val) else error("no field " .. tostring(k)) end
end
Vec.__len = function(v) return 3 end
Vec.__call = function(v, i) return rawget(v, i) end
Vec.__add = function(a, b) return setmetatable({ a[1] + b[1], a[2] + b[2], a[3] + b[3] }, Vec) end
Vec.__mul = function(a, k)
  if type(a) == "number" then a, k = k, a end
  return setmetatable({ a[1] * k, a[2] * k, a[3] * k }, Vec)
end
Vec.__eq = function(a, b) return a[1] == b[1] and a[2] == b[2] and a[3] == b[3] end
Vec.__tostring = function(v) return "(" .. v[1] .. "," .. v[2] .. "," .. v[3] .. ")" end
Vec.__concat = function(a, b)
  if getmetatable(a) == Vec then a = tostring(a) end
  if getmetatable(b) == Vec then b = tostring(b) end
  return a .. b
end
local function vec(x, y, z) return setmetatable({ x, y, z }, Vec) end
function methods.dot(a, b) return a.x * b.x + a.y * b.y + a.z * b.z end
function methods.cross(a, b)
  return vec(a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x)
end

-- rational work: harmonic-ish partial sums and sorting with __lt
local checks = {}
local best = rat(-1000)
local rsum = 0
for r = 1, ROUNDS do
  local s = rat(0)
  for k = 1, 12 do
    s = s + rat(1, k + r % 5) - rat(1, k * 3 + 1) * rat(k % 3 + 1, 2)
  end
  local h = (s + rat(r % 9, 7)) / 2
  if r % 3 == 0 then h = -h end
  if best < h then best = h end
  rsum = (rsum + h.n % 1000003 + h.d % 1000003) % 1000003
  local items = {}
  for k = 1, 20 do items[k] = rat((k * 37 + r) % 29 - 14, k % 6 + 1) end
  table.sort(items, function(a, b) return a < b end)
  if not (items[1] <= items[20]) then error("sort failed") end
  if items[1] == items[1] + 0 then checks[#checks + 1] = 1 end
end

-- vector work
local acc = vec(0, 0, 0)
local dots, eqs, lens = 0, 0, 0
for r = 1, ROUNDS * 60 do
  local a = vec(r % 7, r % 11 - 5, 3)
  local b = vec(2, r % 5, -(r % 3))
  local c = a:cross(b)
  acc = acc + c * 2 + a
  dots = dots + a:dot(b) + c(1)
  if a + b == b + a then eqs = eqs + 1 end
  lens = lens + #acc
  if r % 1000 == 0 then acc.z = acc.z % 1000; acc.x = acc.x % 997 end
end
local okset = pcall(function() acc.w = 1 end)

local moved = table.move({ 1, 2, 3, 4, 5 }, 2, 4, 1, {})
print("best=" .. best, rsum, "acc=" .. acc, dots, eqs, lens, #checks, okset, #moved)
