-- bench: 64-bit integer bit manipulation: xorshift PRNG, FNV-1a string hashing, table-driven CRC32, popcount
-- luajit: no (uses bitwise operators, 64-bit integer wraparound and // )
local N = 5000000
local HASH_ROUNDS = 100

-- xorshift64* generator relying on wrapping 64-bit integer arithmetic
local state = 88172645463325252
local function next_rand()
  local x = state
  x = x ~ (x << 13)
  x = x ~ (x >> 7)
  x = x ~ (x << 17)
  state = x
  return x
end

local function popcount(x)
  local c = 0
  while x ~= 0 do
    x = x & (x - 1)
    c = c + 1
  end
  return c
end

local function fnv1a(s)
  local h = 2166136261
  for i = 1, #s do
    h = h ~ string.byte(s, i)
    h = (h * 16777619) & 0xffffffff
  end
  return h
end

local crc_table = {}
for i = 0, 255 do
  local c = i
  for _ = 1, 8 do
    if c & 1 == 1 then c = 0xEDB88320 ~ (c >> 1) else c = c >> 1 end
  end
  crc_table[i] = c
end
local function crc32(s)
  local c = 0xffffffff
  for i = 1, #s do
    c = crc_table[(c ~ string.byte(s, i)) & 0xff] ~ (c >> 8)
  end
  return c ~ 0xffffffff
end

local function reverse32(x)
  local r = 0
  for _ = 1, 32 do
    r = (r << 1) | (x & 1)
    x = x >> 1
  end
  return r
end

local bits, xacc, sum_hi = 0, 0, 0
for i = 1, N do
  local r = next_rand()
  bits = bits + popcount(r & 0xffffffff)
  xacc = xacc ~ (r >> (i % 29))
  sum_hi = (sum_hi + (r >> 40) // 3) % 1000000007
end

local words = {}
for i = 1, 2000 do words[i] = "key" .. i .. "/" .. (i * 7919) % 1000 end
local hsum, csum = 0, 0
for round = 1, HASH_ROUNDS do
  for i = 1, #words do
    hsum = (hsum + fnv1a(words[i]) + round) % 4294967296
  end
end
local blob = table.concat(words, ",")
for round = 1, HASH_ROUNDS do csum = (csum + crc32(string.sub(blob, round * 3))) % 4294967296 end
local rsum = 0
for i = 1, 300000 do rsum = (rsum + reverse32(i * 2654435761 & 0xffffffff)) % 1000000007 end

print(string.format("bits=%d xacc=%016x hi=%d fnv=%08x crc=%08x rev=%d crc_check=%08x",
  bits, xacc, sum_hi, hsum, csum, rsum, crc32("The quick brown fox jumps over the lazy dog")))
