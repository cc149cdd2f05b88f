-- building strings with table.concat vs repeated concatenation
local buf = {}
for i = 1, 10 do buf[#buf + 1] = string.format("%02d", i * i) end
print(table.concat(buf, "|"))
local s = ""
for i = 1, 10 do s = s .. string.format("%02d", i * i) .. (i < 10 and "|" or "") end
print(s == table.concat(buf, "|"))
local lines = {}
for i = 1, 5 do lines[#lines + 1] = string.rep("*", i) .. string.rep(" ", 5 - i) .. "|" end
print(table.concat(lines, "\n"))
local function wrap(text, width)
  local out, line = {}, ""
  for word in text:gmatch("%S+") do
    if #line + #word + 1 > width and #line > 0 then out[#out + 1] = line; line = word
    else line = (#line > 0) and (line .. " " .. word) or word end
  end
  if #line > 0 then out[#out + 1] = line end
  return out
end
for _, l in ipairs(wrap("the quick brown fox jumps over the lazy dog and keeps running far away", 16)) do
  print(string.format("[%-16s]", l))
end
