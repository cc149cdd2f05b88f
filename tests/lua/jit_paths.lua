-- Exercises tier-1 fast paths and their fallbacks: inline caches that go
-- stale, upvalues open and closed, pairs/ipairs, natives with any result
-- count, mixed arithmetic, constant comparisons, deep and failing calls.
-- Loops run long enough to tier up mid-run under every test mode.

-- Inline caches: one site, tables of different shapes, keys removed,
-- metatables attached mid-loop, globals redefined.
local function getx(t) return t.x end
local shapes = {
  {x = 1}, {y = 2, x = 3}, {a = 1, b = 2, c = 3, x = 4}, {}, {x = false},
}
local acc = {}
for i = 1, 200 do
  local t = shapes[i % #shapes + 1]
  acc[#acc + 1] = tostring(getx(t))
  if i == 100 then shapes[3].x = nil end
  if i == 150 then setmetatable(shapes[4], {__index = function(_, k) return "meta-" .. k end}) end
end
print(table.concat(acc, ",", 1, 12), acc[101], acc[196], acc[199])

local function setx(t, v) t.x = v end
local ts = {{x = 0}, {x = 0, y = 1}}
local log = {}
setmetatable(ts[2], nil)
for i = 1, 100 do
  setx(ts[i % 2 + 1], i)
  if i == 60 then setmetatable(ts[1], {__newindex = function(t, k, v) log[#log + 1] = k .. "=" .. v end}); ts[1].x = nil end
end
print(ts[1].x, ts[2].x, #log, log[1], log[#log])

counter = 0
local function bump() counter = counter + 1 end
for _ = 1, 100 do bump() end
counter = "s"
local ok, err = pcall(bump)
print(counter, ok, (err:gsub("^.-:%d+: ", "")))
counter = 0.5
for _ = 1, 50 do bump() end
print(counter)

-- Upvalues: open while the enclosing function runs, closed after.
local function make()
  local n = 0
  local function inc(k) n = n + k return n end
  local function get() return n end
  for i = 1, 50 do inc(i) end
  return inc, get
end
local inc, get = make()
for i = 1, 50 do inc(-1) end
print(get(), inc(0.5))

-- pairs / ipairs with one and two loop variables, holes, errors.
local arr = {}
for i = 1, 100 do arr[i] = i * i end
local s1, s2 = 0, 0
for i in ipairs(arr) do s1 = s1 + i end
for _, v in ipairs(arr) do s2 = s2 + v end
local keys = 0
for k in pairs({a = 1, b = 2, c = 3, 10, 20}) do keys = keys + (type(k) == "number" and k or #k) end
print(s1, s2, keys)
arr[50] = nil
local n = 0
for _ in ipairs(arr) do n = n + 1 end
print(n)
print(pcall(function() for k in next, {}, "nope" do end end))

-- Natives with fixed and variable result counts in hot loops.
local parts = {}
for i = 1, 60 do
  local a, b = math.modf(i / 7)
  local s = string.format("%d:%.3f", i, a + b)
  parts[#parts + 1] = select("#", string.byte(s, 1, -1))
end
print(#parts, parts[1], parts[60], select(2, pcall(string.rep)))

-- Mixed integer/float arithmetic and type flips at one site.
local function mix(a, b) return a + b, a * b, a - b, a / b, a // b, a % b end
local out = {}
for i = -30, 30 do
  local b = (i % 3 == 0) and 2.5 or ((i % 3 == 1) and -3 or 7)
  local r = {mix(i, b)}
  out[#out + 1] = r[1] .. "|" .. r[5] .. "|" .. r[6]
end
print(out[1], out[31], out[61])
print(pcall(mix, 1, 0))
print(pcall(function() local x = 0 for i = 1, 40 do x = x + i // (i - 20) end return x end))
print(7 // -2, -7 // 2, 7 % -2, -7 % 2, 7.5 // 2, 2 ^ 10, 1 << 63, -1 >> 1)

-- Comparisons with nil, booleans and strings.
local vals = {nil, false, true, "a", "b", 0, 0.0, "a" .. ""}
local cmp = {}
for i = 1, 8 do
  local v = vals[i]
  cmp[#cmp + 1] = (v == nil and "N" or "") .. (v == false and "F" or "") .. (v == true and "T" or "") .. (v == "a" and "A" or "")
end
print(table.concat(cmp, ","))

-- Calls deeper than the compiled code's nesting bound, and errors deep down.
local function depth(k) if k == 0 then return 0 end return 1 + depth(k - 1) end
print(depth(500))
local function boom(k) if k == 0 then error("deep") end return boom(k - 1) + 1 end
print(pcall(boom, 300))
local function sum_to(k) if k == 0 then return 0 end local ok, v = pcall(sum_to, k - 1) return k + v end
print(sum_to(150))
