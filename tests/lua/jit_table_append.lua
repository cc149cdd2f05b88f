-- Appends to a table's array part, which compiled code does inline while
-- the array has room and the table has no hash part, and every case that
-- must still go to the runtime. Each shape runs in a function called often
-- enough to be compiled.
local function fill(t, n, v)
  for i = #t + 1, #t + n do t[i] = v end
  return t
end
local function show(t)
  local parts = {}
  for i = 1, #t do parts[#parts + 1] = tostring(t[i]) end
  return #t .. ":" .. table.concat(parts, ",")
end
local results = {}
for round = 1, 200 do
  -- plain appends into a fresh table and one presized by a constructor
  local a = fill({}, 5, round)
  local b = fill({ 1, 2, 3 }, 3, "s")
  -- a hash part that already holds the next keys: they must migrate
  local c = { x = 1 }
  c[3] = "three"; c[4] = "four"
  fill(c, 2, "v")
  -- appending nil is not an append
  local d = fill({ 1, 2 }, 2, nil)
  -- a metatable with __newindex sees every new key
  local seen = 0
  local e = setmetatable({}, { __newindex = function(t, k, v) seen = seen + 1; rawset(t, k, v) end })
  fill(e, 3, true)
  -- a gap: writing past the end + 1 goes to the hash part
  local f = {}
  f[1] = 1; f[3] = 3; f[2] = 2
  if round == 200 then
    results = { show(a), show(b), show(c) .. " x=" .. tostring(c.x), show(d), show(e) .. " seen=" .. seen, show(f) }
  end
end
for _, r in ipairs(results) do print(r) end
-- growth across many appends (the array reallocates in the runtime)
local big = {}
for i = 1, 10000 do big[#big + 1] = i * 2 end
local s = 0
for i = 1, #big do s = s + big[i] end
print(#big, s)
