-- The instructions compiled code runs through dedicated runtime calls
-- (rather than one interpreter step): table reads and writes off the inline
-- path, comparisons of strings / mixed numbers / metamethods, concatenation,
-- closures, upvalue-closing jumps, numeric-for preparation, table
-- constructors and natives in tail position. Each runs hot in a loop so
-- the compiled tiers take it, with its error cases under pcall.

-- SetTable: appends grow the array part, hash keys, float and string keys.
local function build(n)
  local t = {}
  for i = 1, n do t[i] = i * 2 end
  local h = {}
  for i = 1, n do h["k" .. (i % 7)] = i; h[i + 0.5] = i end
  h[2^53] = "big"
  return t, h
end
local t, h = build(300)
print(#t, t[1], t[300], h.k0, h.k6, h[10.5], h[2^53])

-- SetTable errors: nil and NaN keys, indexing a non-table.
for _, k in ipairs({ "nil", "nan" }) do
  local ok, err = pcall(function()
    local x = {}
    local key = 0 / 0
    if k == "nil" then key = nil end
    for i = 1, 3 do x[i] = i end
    x[key] = 1
  end)
  print(k, ok, err)
end
print(pcall(function() local s = 5; local v = 1; s[v] = 2 end))

-- __newindex and __index through integer and string keys.
local log = {}
local proxy = setmetatable({}, {
  __newindex = function(t2, k, v) log[#log + 1] = tostring(k) .. "=" .. tostring(v); rawset(t2, k, v) end,
  __index = function(_, k) return "default:" .. tostring(k) end,
})
for i = 1, 5 do proxy[i] = i * i end
for i = 1, 7 do local k = "f" .. i; local _ = proxy[k] end
print(#log, log[1], log[5], proxy[3], proxy[9], proxy.zz)

-- GetTable: hash part by integer beyond the array, string keys in
-- registers, misses, and reading a non-table.
local sum = 0
local names = { "a", "b", "c" }
local rec = { a = 1, b = 2, c = 3, [1000] = 7 }
for i = 1, 3000 do
  sum = sum + rec[names[i % 3 + 1]] + (rec[1000] or 0) + (rec[i] or 0)
end
print(sum)
print(pcall(function() local n = nil; local k = "x"; return n[k] end))

-- Comparisons: strings, mixed int/float, metamethods, errors.
local words = {}
for i = 1, 200 do words[i] = string.format("w%03d", (i * 37) % 200) end
local less, lesseq, equal = 0, 0, 0
for i = 1, 199 do
  if words[i] < words[i + 1] then less = less + 1 end
  if words[i] <= words[i + 1] then lesseq = lesseq + 1 end
  if words[i] == "w074" then equal = equal + 1 end
end
print(less, lesseq, equal)
local mixed = 0
for i = 1, 1000 do
  local f = i / 3
  if i < f * 2 then mixed = mixed + 1 end
  if f <= i then mixed = mixed + 1 end
  if i == f * 3 then mixed = mixed + 1 end
end
print(mixed, 1 < 1.5, 2 <= 2.0, 3 == 3.0, math.maxinteger < 2^63, math.mininteger <= -2^63)
local V = {}
V.__lt = function(a, b) return a.v < b.v end
V.__le = function(a, b) return a.v <= b.v end
V.__eq = function(a, b) return a.v == b.v end
local vals = {}
for i = 1, 50 do vals[i] = setmetatable({ v = i % 10 }, V) end
local lt, le, eq = 0, 0, 0
for i = 1, 49 do
  if vals[i] < vals[i + 1] then lt = lt + 1 end
  if vals[i] <= vals[i + 1] then le = le + 1 end
  if vals[i] == vals[i + 10] then eq = eq + 1 end
end
print(lt, le, eq)
print(pcall(function() local a, b = {}, 1; return a < b end))
print(pcall(function() local a, b = "x", 1; return a <= b end))

-- Concat: numbers, __concat, errors.
local parts = {}
for i = 1, 100 do parts[#parts + 1] = i .. ":" .. (i / 2) end
print(#parts, parts[1], parts[100])
local C = setmetatable({}, { __concat = function(a, b) return "C" end })
local cs = ""
for i = 1, 20 do cs = cs .. (C .. i) end
print(cs)
print(pcall(function() local x = {}; return "a" .. x end))

-- Closures in a loop, each capturing its own iteration variable; a
-- `break` out of a block whose local is captured (an upvalue-closing jump).
local fns = {}
for i = 1, 100 do
  local j = i * 2
  fns[i] = function() return i + j end
end
local total = 0
for i = 1, 100 do total = total + fns[i]() end
print(total)
local kept = {}
for i = 1, 50 do
  while true do
    local captured = i
    kept[#kept + 1] = function() return captured end
    if i % 2 == 0 then break end
    captured = captured + 1000
    break
  end
end
print(kept[1](), kept[2](), kept[49](), kept[50]())

-- Numeric for preparation: float loops, zero and negative steps, errors.
local count = 0
for _ = 1, 200 do
  for x = 1, 2, 0.25 do count = count + x end
  for _ = 10, 1 do count = count + 1000 end
  for y = 3, 1, -1 do count = count + y end
end
print(count)
print(pcall(function() for _ = 1, 10, 0 do end end))
print(pcall(function() local lim = "x"; for _ = 1, lim do end end))
print(pcall(function() local init = {}; for _ = init, 10 do end end))

-- Table constructors with a variable number of values (SetList to top).
local function pack(...) return { ... } end
local function three() return 1, 2, 3 end
local n = 0
for _ = 1, 300 do
  local p = pack(three())
  local q = { 0, three() }
  n = n + #p + #q
end
print(n)

-- Natives in tail position: results, errors, inside pcall.
local function first(...) return select(1, ...) end
local function count_args(...) return select("#", ...) end
local function raw(tt, k) return rawget(tt, k) end
local function fail(msg) return error(msg, 0) end
local acc = 0
for i = 1, 500 do
  acc = acc + first(i, 2, 3) + count_args(i, nil, nil) + raw({ 5 }, 1)
end
print(acc, first(), count_args())
print(pcall(fail, "tail error"))
print(select("#", first(1, 2, 3)), first(table.unpack({ 9, 8, 7 })))
