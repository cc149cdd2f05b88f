-- character classes and complements
local sample = "aZ 9_!\t\n~\127x"
local classes = {"%a", "%d", "%l", "%s", "%u", "%w", "%x", "%p", "%c", "%g", "%A", "%D", "%L", "%S", "%U", "%W", "%X", "%P", "%C", "%G", "."}
for _, c in ipairs(classes) do
  local hits = {}
  for i = 1, #sample do
    local ch = sample:sub(i, i)
    if ch:find("^" .. c .. "$") then hits[#hits + 1] = i end
  end
  print(c, table.concat(hits, ","))
end
