-- several sorting algorithms agree with table.sort
local function lcg(seed) local s = seed return function() s = (s * 1103515245 + 12345) % 2147483648; return s % 1000 end end
local function copy(t) local r = {} for i = 1, #t do r[i] = t[i] end return r end
local function insertion(t)
  for i = 2, #t do
    local v, j = t[i], i - 1
    while j >= 1 and t[j] > v do t[j + 1] = t[j]; j = j - 1 end
    t[j + 1] = v
  end
  return t
end
local function merge_sort(t)
  if #t <= 1 then return t end
  local mid = #t // 2
  local l, r = {}, {}
  for i = 1, mid do l[#l + 1] = t[i] end
  for i = mid + 1, #t do r[#r + 1] = t[i] end
  l, r = merge_sort(l), merge_sort(r)
  local out, i, j = {}, 1, 1
  while i <= #l and j <= #r do
    if l[i] <= r[j] then out[#out + 1] = l[i]; i = i + 1 else out[#out + 1] = r[j]; j = j + 1 end
  end
  for k = i, #l do out[#out + 1] = l[k] end
  for k = j, #r do out[#out + 1] = r[k] end
  return out
end
local function quick(t, lo, hi)
  lo, hi = lo or 1, hi or #t
  if lo >= hi then return t end
  local p, i = t[hi], lo - 1
  for j = lo, hi - 1 do if t[j] <= p then i = i + 1; t[i], t[j] = t[j], t[i] end end
  t[i + 1], t[hi] = t[hi], t[i + 1]
  quick(t, lo, i); quick(t, i + 2, hi)
  return t
end
local rnd = lcg(42)
local data = {}
for i = 1, 300 do data[i] = rnd() end
local ref = copy(data); table.sort(ref)
local a, b, c = insertion(copy(data)), merge_sort(copy(data)), quick(copy(data))
local same = true
for i = 1, #ref do if a[i] ~= ref[i] or b[i] ~= ref[i] or c[i] ~= ref[i] then same = false end end
print(same, ref[1], ref[150], ref[300])
print(table.concat(data, ",", 1, 10))
