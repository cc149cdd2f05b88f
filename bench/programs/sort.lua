-- bench: array sorting written in Lua (quicksort, heapsort, merge sort) plus table.sort with a comparator
-- luajit: yes
local N = 200000

local seed = 12345
local function rand()
  seed = (seed * 16807) % 2147483647
  return seed
end

local function make_array(n)
  local a = {}
  for i = 1, n do a[i] = rand() % 1000000 end
  return a
end

local function copy(a)
  local b = {}
  for i = 1, #a do b[i] = a[i] end
  return b
end

local function insertion(a, lo, hi)
  for i = lo + 1, hi do
    local v = a[i]
    local j = i - 1
    while j >= lo and a[j] > v do
      a[j + 1] = a[j]
      j = j - 1
    end
    a[j + 1] = v
  end
end

local function quicksort(a, lo, hi)
  while hi - lo > 12 do
    local mid = lo + math.floor((hi - lo) / 2)
    -- median of three
    if a[mid] < a[lo] then a[mid], a[lo] = a[lo], a[mid] end
    if a[hi] < a[lo] then a[hi], a[lo] = a[lo], a[hi] end
    if a[hi] < a[mid] then a[hi], a[mid] = a[mid], a[hi] end
    local pivot = a[mid]
    local i, j = lo, hi
    while i <= j do
      while a[i] < pivot do i = i + 1 end
      while a[j] > pivot do j = j - 1 end
      if i <= j then
        a[i], a[j] = a[j], a[i]
        i = i + 1
        j = j - 1
      end
    end
    if j - lo < hi - i then
      quicksort(a, lo, j)
      lo = i
    else
      quicksort(a, i, hi)
      hi = j
    end
  end
  insertion(a, lo, hi)
end

local function heapsort(a, n)
  local function sift(start, stop)
    local root = start
    while true do
      local child = root * 2
      if child > stop then return end
      if child < stop and a[child] < a[child + 1] then child = child + 1 end
      if a[root] < a[child] then
        a[root], a[child] = a[child], a[root]
        root = child
      else
        return
      end
    end
  end
  for start = math.floor(n / 2), 1, -1 do sift(start, n) end
  for stop = n, 2, -1 do
    a[1], a[stop] = a[stop], a[1]
    sift(1, stop - 1)
  end
end

local function mergesort(a, n)
  local src, dst = a, {}
  local width = 1
  while width < n do
    local lo = 1
    while lo <= n do
      local mid = math.min(lo + width, n + 1)
      local hi = math.min(lo + 2 * width, n + 1)
      local i, j, k = lo, mid, lo
      while i < mid and j < hi do
        if src[i] <= src[j] then
          dst[k] = src[i]; i = i + 1
        else
          dst[k] = src[j]; j = j + 1
        end
        k = k + 1
      end
      while i < mid do dst[k] = src[i]; i = i + 1; k = k + 1 end
      while j < hi do dst[k] = src[j]; j = j + 1; k = k + 1 end
      lo = lo + 2 * width
    end
    src, dst = dst, src
    width = width * 2
  end
  return src
end

local function checksum(a)
  local s = 0
  for i = 1, #a do
    if i > 1 and a[i - 1] > a[i] then error("not sorted at " .. i) end
    s = (s + a[i] * (i % 1000 + 1)) % 1000000007
  end
  return s
end

local results = {}
for round = 1, 2 do
  local base = make_array(N)
  local q = copy(base); quicksort(q, 1, #q)
  local h = copy(base); heapsort(h, #h)
  local m = mergesort(copy(base), #base)
  local t = copy(base); table.sort(t, function(x, y) return x > y end)
  -- reverse t so it is ascending again
  local n = #t
  for i = 1, math.floor(n / 2) do t[i], t[n + 1 - i] = t[n + 1 - i], t[i] end
  local cq, ch, cm, ct = checksum(q), checksum(h), checksum(m), checksum(t)
  if cq ~= ch or cq ~= cm or cq ~= ct then error("sort mismatch") end
  results[#results + 1] = string.format("%d:%d:%d:%d", cq, q[1], q[math.floor(N / 2)], q[N])
end
print(table.concat(results, " "))
