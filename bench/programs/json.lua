-- bench: JSON-like encoder (sorted keys, escapes, int/float distinction) and recursive-descent decoder, round-tripped
-- luajit: no (uses math.type, // and table.pack/table.unpack)
local ROUNDS = 500

local escapes = { ['"'] = '\\"', ['\\'] = '\\\\', ['\n'] = '\\n', ['\t'] = '\\t' }

local function is_array(t)
  local n = #t
  local count = 0
  for _ in pairs(t) do count = count + 1 end
  return count == n
end

local encode
local function encode_into(v, buf)
  local tv = type(v)
  if tv == "table" then
    if is_array(v) and #v > 0 then
      buf[#buf + 1] = "["
      for i = 1, #v do
        if i > 1 then buf[#buf + 1] = "," end
        encode_into(v[i], buf)
      end
      buf[#buf + 1] = "]"
    else
      local keys = {}
      for k in pairs(v) do keys[#keys + 1] = tostring(k) end
      table.sort(keys)
      buf[#buf + 1] = "{"
      for i, k in ipairs(keys) do
        if i > 1 then buf[#buf + 1] = "," end
        buf[#buf + 1] = '"' .. string.gsub(k, '[%c"\\]', escapes) .. '":'
        encode_into(v[k], buf)
      end
      buf[#buf + 1] = "}"
    end
  elseif tv == "string" then
    buf[#buf + 1] = '"' .. string.gsub(v, '[%c"\\]', escapes) .. '"'
  elseif tv == "number" then
    if math.type(v) == "integer" then
      buf[#buf + 1] = string.format("%d", v)
    else
      local f = string.format("%.14g", v)
      buf[#buf + 1] = f
      if not string.find(f, "[%.eEn]") then buf[#buf + 1] = ".0" end
    end
  elseif tv == "boolean" then
    buf[#buf + 1] = v and "true" or "false"
  elseif v == nil then
    buf[#buf + 1] = "null"
  else
    error("cannot encode " .. tv)
  end
end

encode = function(v)
  local buf = {}
  encode_into(v, buf)
  return table.concat(buf)
end

local unescapes = { ['"'] = '"', ['\\'] = '\\', n = '\n', t = '\t' }

local function decode(s)
  local pos = 1
  local parse_value

  local function skip()
    pos = string.find(s, "[^ \n\t]", pos) or (#s + 1)
  end

  local function parse_string()
    local start = pos + 1
    local i = start
    local has_escape = false
    while true do
      local c = string.byte(s, i)
      if c == nil then error("unterminated string") end
      if c == 92 then has_escape = true; i = i + 2
      elseif c == 34 then break
      else i = i + 1 end
    end
    local raw = string.sub(s, start, i - 1)
    pos = i + 1
    if has_escape then
      raw = string.gsub(raw, "\\(.)", unescapes)
    end
    return raw
  end

  parse_value = function()
    skip()
    local c = string.sub(s, pos, pos)
    if c == "{" then
      pos = pos + 1
      local obj = {}
      skip()
      if string.sub(s, pos, pos) == "}" then pos = pos + 1; return obj end
      while true do
        skip()
        if string.sub(s, pos, pos) ~= '"' then error("expected key at " .. pos) end
        local k = parse_string()
        skip()
        if string.sub(s, pos, pos) ~= ":" then error("expected colon at " .. pos) end
        pos = pos + 1
        obj[k] = parse_value()
        skip()
        local d = string.sub(s, pos, pos)
        pos = pos + 1
        if d == "}" then return obj end
        if d ~= "," then error("expected , or } at " .. pos) end
      end
    elseif c == "[" then
      pos = pos + 1
      local arr = {}
      while true do
        arr[#arr + 1] = parse_value()
        skip()
        local d = string.sub(s, pos, pos)
        pos = pos + 1
        if d == "]" then return arr end
        if d ~= "," then error("expected , or ] at " .. pos) end
      end
    elseif c == '"' then
      return parse_string()
    elseif c == "t" and string.sub(s, pos, pos + 3) == "true" then
      pos = pos + 4; return true
    elseif c == "f" and string.sub(s, pos, pos + 4) == "false" then
      pos = pos + 5; return false
    else
      local num = string.match(s, "^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
      if not num or num == "" then error("unexpected character at " .. pos) end
      pos = pos + #num
      return tonumber(num)
    end
  end

  local v = parse_value()
  skip()
  if pos <= #s then error("trailing garbage at " .. pos) end
  return v
end

local function make_doc(r)
  local users = {}
  for i = 1, 60 do
    users[i] = {
      id = i * r,
      name = "user\t" .. i .. "\"q\"",
      score = (i * 37 + r) % 101 / 8,
      ratio = i / 4,
      active = (i + r) % 3 == 0,
      tags = { "t" .. (i % 5), "g" .. (i % 7), "line\n" .. (i // 10) },
      pos = { x = i * 1.5, y = -i, z = { depth = i % 4, ok = true } },
    }
  end
  return { round = r, users = users, meta = { version = "1.0", count = #users, big = 2 ^ 40 } }
end

local total_len, hash, errors, checksum = 0, 0, 0, 0
for r = 1, ROUNDS do
  local doc = make_doc(r)
  local s1 = encode(doc)
  local back = decode(s1)
  local s2 = encode(back)
  if s1 ~= s2 then error("round trip mismatch in round " .. r) end
  total_len = total_len + #s1
  for i = 1, #s1, 11 do hash = (hash * 17 + string.byte(s1, i)) % 1000000007 end
  for i, u in ipairs(back.users) do
    checksum = checksum + u.id + #u.tags + u.pos.z.depth
    if u.active then checksum = checksum + 1 end
  end
  -- malformed documents must fail cleanly
  local bad = { "{\"a\":}", "[1,2", "{\"x\" 1}", "\"open", "[1 2]", "tru" }
  for _, b in ipairs(bad) do
    local ok = pcall(decode, b)
    if not ok then errors = errors + 1 end
  end
end

local packed = table.pack(total_len, hash, errors, checksum)
print(string.format("n=%d len=%d hash=%d errors=%d checksum=%d", packed.n, table.unpack(packed, 1, packed.n)))
print(encode({ 1, 2.5, "a\"b", { k = false }, 3.0, -0.125 }))
