-- bench: string library heavy: format, match with captures, gmatch, gsub (string/table/function repl), find
-- luajit: yes
local LINES = 12000
local PASSES = 9

local levels = { "INFO", "WARN", "ERROR", "DEBUG" }
local users = { "alice", "bob", "carol", "dave", "eve", "mallory" }
local actions = { "login", "logout", "upload", "download", "delete", "search" }

local seed = 7
local function rand(n)
  seed = (seed * 16807) % 2147483647
  return seed % n + 1
end

-- generate a log
local log = {}
for i = 1, LINES do
  log[i] = string.format("2024-%02d-%02d %02d:%02d:%02d [%s] user=%s action=%s bytes=%d latency=%.3fms msg=\"%s\"",
    rand(12), rand(28), rand(24) - 1, rand(60) - 1, rand(60) - 1,
    levels[rand(4)], users[rand(6)], actions[rand(6)], rand(100000), rand(50000) / 1000,
    string.rep("x", rand(5)) .. " request " .. i .. " ok")
end

local bytes_by_level = { INFO = 0, WARN = 0, ERROR = 0, DEBUG = 0 }
local latency_sum = 0.0
local kv_pairs, masked_len, errors, vowels, caps_len, hour_sum = 0, 0, 0, 0, 0, 0
local abbrev = { alice = "A", bob = "B", carol = "C", dave = "D", eve = "E" }

for pass = 1, PASSES do
  for i = 1, LINES do
    local line = log[i]
    local mo, d, hh, mi, ss, lvl, user, action, nbytes, lat =
      string.match(line, "^%d+%-(%d+)%-(%d+) (%d+):(%d+):(%d+) %[(%u+)%] user=(%a+) action=(%a+) bytes=(%d+) latency=([%d%.]+)ms")
    bytes_by_level[lvl] = bytes_by_level[lvl] + tonumber(nbytes)
    latency_sum = latency_sum + tonumber(lat)
    hour_sum = hour_sum + tonumber(hh) * tonumber(mo) + tonumber(d) - tonumber(mi) + tonumber(ss)

    for k, v in string.gmatch(line, "(%a+)=(%w+)") do
      kv_pairs = kv_pairs + #k + #v
    end

    local masked, nd = string.gsub(line, "%d", "#")
    masked_len = masked_len + #masked + nd

    if string.find(line, "ERROR", 1, true) then errors = errors + 1 end

    local _, nv = string.gsub(user .. action, "[aeiou]", "")
    vowels = vowels + nv

    local short = string.gsub(line, "user=(%a+)", abbrev)
    local caps = string.gsub(short, "(%a)(%a*)", function(first, rest)
      return string.upper(first) .. rest
    end)
    caps_len = caps_len + #caps

    local s, e = string.find(line, "msg=\"[^\"]*\"")
    if s then caps_len = caps_len + (e - s) end
  end
end

local summary = {}
for _, lvl in ipairs(levels) do
  summary[#summary + 1] = string.format("%s=%d", string.lower(lvl), bytes_by_level[lvl])
end
print(table.concat(summary, " "))
print(string.format("latency=%.3f kv=%d masked=%d errors=%d vowels=%d caps=%d hours=%d",
  latency_sum, kv_pairs, masked_len, errors, vowels, caps_len, hour_sum))
print(string.reverse(string.sub(log[LINES], 1, 19)))
