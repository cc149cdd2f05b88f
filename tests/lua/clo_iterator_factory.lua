-- closures as iterators: range with step, sorted pairs, zip
local function range(a, b, step)
  step = step or 1
  local i = a - step
  return function() i = i + step; if (step > 0 and i <= b) or (step < 0 and i >= b) then return i end end
end
local out = {}
for v in range(1, 10, 3) do out[#out + 1] = v end
for v in range(5, 1, -2) do out[#out + 1] = v end
print(table.concat(out, " "))
local function spairs(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  local i = 0
  return function() i = i + 1; local k = keys[i]; if k ~= nil then return k, t[k] end end
end
for k, v in spairs({zeta = 1, alpha = 2, mid = 3}) do io.write(k, "=", v, " ") end print()
local function zip(a, b)
  local i = 0
  return function() i = i + 1; if a[i] ~= nil and b[i] ~= nil then return a[i], b[i] end end
end
for x, y in zip({1, 2, 3}, {"a", "b"}) do io.write(x, y, " ") end print()
