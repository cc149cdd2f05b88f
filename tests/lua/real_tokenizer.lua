-- tokenizer for arithmetic expressions using patterns
local function tokenize(src)
  local tokens, pos = {}, 1
  while pos <= #src do
    local s, e = src:find("^%s+", pos)
    if s then pos = e + 1
    else
      local num = src:match("^%d+%.?%d*", pos)
      local ident = src:match("^[%a_][%w_]*", pos)
      local op = src:match("^[%+%-%*/%^%(%)=,]", pos)
      if num then tokens[#tokens + 1] = {"num", num}; pos = pos + #num
      elseif ident then tokens[#tokens + 1] = {"id", ident}; pos = pos + #ident
      elseif op then tokens[#tokens + 1] = {"op", op}; pos = pos + 1
      else error(string.format("unexpected character '%s' at %d", src:sub(pos, pos), pos), 0) end
    end
  end
  return tokens
end
for _, src in ipairs({"x = 3.14 * (r ^ 2)", "f(a, b_2) - 10", "  1+2  "}) do
  local out = {}
  for _, t in ipairs(tokenize(src)) do out[#out + 1] = t[1] .. ":" .. t[2] end
  print(table.concat(out, " "))
end
print(pcall(tokenize, "a $ b"))
