-- Scanning for a match skips start positions whose byte fails the
-- pattern's first class: every kind of first item, and the ones where no
-- skip applies, must give what lua5.4 gives.
local subjects = {
  "user=alice action=login bytes=42",
  "  leading spaces, then words; x=1 ;y=22",
  "((a)(b)) [x] %d $5 end$",
  "",
  "ERROR: disk full\nWARN: low memory\nERROR again",
  "aaa bbb aaa",
}
local patterns = {
  "user=(%a+)", "(%a+)=(%w+)", "%d+", "%a", "[aeiou]", "[^%s,]+", "()%a+",
  "((%a)(%a*))", "ERROR", "E%u+", "%s*", "a*", "x?", "b-", "%b()", "%f[%w]%w+",
  "$", "end$", "$5", ";.*$", "(%a)%1", "()", "", "[%]]", "%%d", "^%s*(%a+)",
  "^a", "%.", ".", "[a-c]+", "%S+",
}
local function show(...)
  local t = table.pack(...)
  for i = 1, t.n do t[i] = tostring(t[i]) end
  return table.concat(t, ",")
end
for si, s in ipairs(subjects) do
  for _, p in ipairs(patterns) do
    local line = { si, p, show(string.find(s, p)), show(string.match(s, p)) }
    local all = {}
    for a, b in string.gmatch(s, p) do all[#all + 1] = tostring(a) .. "/" .. tostring(b) end
    line[#line + 1] = table.concat(all, " ")
    line[#line + 1] = show(string.gsub(s, p, "<%0>"))
    line[#line + 1] = show(string.gsub(s, p, "#", 2))
    line[#line + 1] = show(string.find(s, p, 5))
    print(table.concat(line, " | "))
  end
end
-- Malformed patterns: the error comes where lua5.4 raises it, or not at
-- all when no attempt reaches the bad part.
for _, p in ipairs({ "x[", "[", "%", "(%a", "%a)", "a%", "q%b", "%f", "(()" }) do
  for _, s in ipairs({ "abc", "xyz", "" }) do
    print(p, s, pcall(string.find, s, p), pcall(string.gsub, s, p, "-"))
  end
end
-- Class letters, upper and lower case, against every byte class.
local probe = "aZ09 \t\n\v\f\r!~\0\127\128\255_"
for _, c in ipairs({ "a", "c", "d", "g", "l", "p", "s", "u", "w", "x", "z" }) do
  for _, cl in ipairs({ "%" .. c, "%" .. c:upper() }) do
    local n = select(2, string.gsub(probe, cl, ""))
    local pos = {}
    for i in string.gmatch(probe, "()" .. cl) do pos[#pos + 1] = i end
    print(cl, n, table.concat(pos, " "))
  end
end
