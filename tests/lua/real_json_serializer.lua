-- JSON-like serializer with sorted keys and escaping
local function serialize(v, indent)
  indent = indent or ""
  local t = type(v)
  if t == "nil" then return "null"
  elseif t == "boolean" then return tostring(v)
  elseif t == "number" then
    if math.type(v) == "integer" then return tostring(v) end
    if v ~= v or v == math.huge or v == -math.huge then return "null" end
    return string.format("%.14g", v)
  elseif t == "string" then
    return '"' .. v:gsub('[%c"\\]', function(c)
      local map = {['"'] = '\\"', ['\\'] = '\\\\', ['\n'] = '\\n', ['\t'] = '\\t'}
      return map[c] or string.format("\\u%04x", c:byte())
    end) .. '"'
  elseif t == "table" then
    if #v > 0 or next(v) == nil then
      local parts = {}
      for i, x in ipairs(v) do parts[i] = serialize(x, indent) end
      return "[" .. table.concat(parts, ",") .. "]"
    end
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = tostring(k) end
    table.sort(keys)
    local parts = {}
    local inner = indent .. "  "
    for _, k in ipairs(keys) do
      local val = v[k]
      if val == nil then val = v[tonumber(k)] end
      parts[#parts + 1] = inner .. serialize(k) .. ": " .. serialize(val, inner)
    end
    return "{\n" .. table.concat(parts, ",\n") .. "\n" .. indent .. "}"
  end
  error("cannot serialize " .. t)
end
print(serialize({
  name = "ember", version = 0.5, stable = false, tags = {"lua", "rust"},
  n = {[1] = "x", [2] = "y", z = 1}, nested = {deep = {list = {1, 2.5, "three"}}, empty = {}},
  text = 'quote " backslash \\ newline \n tab \t bell \a',
}))
print(pcall(serialize, {f = print}))
