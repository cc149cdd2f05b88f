-- bench: string building: table.concat buffers, .. chains, string.rep/sub/reverse/byte/char
-- luajit: yes
local ROUNDS = 700

local function byte_hash(s)
  local h = 0
  for i = 1, #s, 7 do
    h = (h * 31 + string.byte(s, i)) % 1000000007
  end
  return h
end

local total_len, hash = 0, 0
for r = 1, ROUNDS do
  -- 1. buffer of small pieces joined by table.concat
  local buf = {}
  for i = 1, 3000 do
    buf[#buf + 1] = "item" .. i .. "=" .. (i * r) % 997 .. ";"
  end
  local s = table.concat(buf)
  total_len = total_len + #s
  hash = (hash + byte_hash(s)) % 1000000007

  -- 2. CSV-like rows joined with a separator, then lines joined with newlines
  local lines = {}
  for row = 1, 200 do
    local cells = {}
    for col = 1, 8 do
      cells[col] = string.char(65 + (row + col) % 26) .. (row * col + r)
    end
    lines[row] = table.concat(cells, ",")
  end
  local csv = table.concat(lines, "\n")
  total_len = total_len + #csv
  hash = (hash + byte_hash(csv)) % 1000000007

  -- 3. naive repeated concatenation (quadratic copying, kept short)
  local acc = ""
  for i = 1, 400 do
    acc = acc .. string.char(97 + (i * r) % 26)
  end
  local rev = string.reverse(acc)
  total_len = total_len + #acc
  hash = (hash + byte_hash(rev .. acc)) % 1000000007

  -- 4. rep / sub / upper round trip
  local pad = string.rep("ab-", 500, "|")
  local pieces = {}
  for i = 1, #pad - 10, 37 do
    pieces[#pieces + 1] = string.upper(string.sub(pad, i, i + 9))
  end
  local joined = table.concat(pieces, "/")
  total_len = total_len + #joined
  hash = (hash + byte_hash(joined)) % 1000000007

  -- 5. building a string from bytes
  local bytes = {}
  for i = 1, 1000 do bytes[i] = string.char(32 + (i * 7 + r) % 95) end
  local bs = table.concat(bytes)
  hash = (hash + byte_hash(bs)) % 1000000007
end

print(string.format("len=%d hash=%d", total_len, hash))
