-- bench: hash-table heavy: word and bigram frequency counting with string keys, then sorting by count
-- luajit: yes
local NWORDS = 700000

local syll = { "ka", "lo", "mi", "ne", "ru", "ta", "shi", "vo", "pe", "zu", "an", "el", "or", "ix" }
local seed = 2024
local function rand(n)
  seed = (seed * 16807) % 2147483647
  return seed % n + 1
end

-- build a text of pseudo-random words with a skewed distribution
local words = {}
for i = 1, NWORDS do
  local nsyl = rand(3)
  local w = syll[rand(#syll)]
  if nsyl > 1 then w = w .. syll[math.min(rand(#syll), rand(#syll))] end
  if nsyl > 2 then w = w .. syll[rand(4)] end
  words[i] = w
end
local text = table.concat(words, " ")

-- count words from the split text
local counts = {}
local total = 0
for w in string.gmatch(text, "%a+") do
  counts[w] = (counts[w] or 0) + 1
  total = total + 1
end

-- bigram counts keyed by concatenated strings
local bigrams = {}
local prev = nil
for i = 1, #words do
  local w = words[i]
  if prev then
    local key = prev .. " " .. w
    local c = bigrams[key]
    if c then bigrams[key] = c + 1 else bigrams[key] = 1 end
  end
  prev = w
end

-- word lengths histogram keyed by strings too
local by_len = {}
for w, c in pairs(counts) do
  local k = "len" .. #w
  by_len[k] = (by_len[k] or 0) + c
end

-- sort keys deterministically (count desc, then key asc)
local function sorted_entries(t)
  local arr = {}
  for k, v in pairs(t) do arr[#arr + 1] = { key = k, n = v } end
  table.sort(arr, function(a, b)
    if a.n ~= b.n then return a.n > b.n end
    return a.key < b.key
  end)
  return arr
end

local top = sorted_entries(counts)
local topb = sorted_entries(bigrams)
local out = {}
for i = 1, 5 do out[#out + 1] = top[i].key .. ":" .. top[i].n end
local outb = {}
for i = 1, 3 do outb[#outb + 1] = topb[i].key .. ":" .. topb[i].n end

-- lookups of present and absent keys
local hits, misses = 0, 0
for i = 1, 60000 do
  local probe = syll[i % #syll + 1] .. syll[(i * 7) % #syll + 1] .. syll[i % 6 + 1]
  if counts[probe] then hits = hits + 1 else misses = misses + 1 end
  if counts[probe .. "q"] then hits = hits + 1 else misses = misses + 1 end
end

-- deleting entries by setting nil
local removed = 0
for i = 1, #top do
  if top[i].n < 200 then counts[top[i].key] = nil; removed = removed + 1 end
end
local remaining = 0
for _ in pairs(counts) do remaining = remaining + 1 end

print(string.format("total=%d unique=%d bigrams=%d hits=%d misses=%d removed=%d remaining=%d len3=%d",
  total, #top, #topb, hits, misses, removed, remaining, by_len["len3"] or 0))
print(table.concat(out, " "))
print(table.concat(outb, " "))
