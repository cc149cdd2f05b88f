-- A capture left open at the end of a match: gsub raises "unfinished
-- capture" only when the replacement reads it; find, match and gmatch
-- always do.
local function try(label, f, ...)
  print(label, pcall(f, ...))
end
try("string, no %", string.gsub, "abc", "(", "x")
try("string, %0", string.gsub, "abc", "(", "<%0>")
try("string, %1", string.gsub, "abc", "(", "%1")
try("closed %1", string.gsub, "abc", "(a)(", "[%1]")
try("open %2", string.gsub, "abc", "(a)(", "[%2]")
try("limit", string.gsub, "abc", "(", "-", 2)
try("table", string.gsub, "abc", "(", { a = "A" })
try("table, closed first", string.gsub, "abc", "(%a)(", { a = "A", b = "B" })
try("function", string.gsub, "abc", "(", function() return "F" end)
try("no match", string.gsub, "b", "(a", "x")
try("find", string.find, "abc", "(")
try("match", string.match, "abc", "(b")
try("gmatch", function() for x in string.gmatch("abc", "(") do return x end end)
