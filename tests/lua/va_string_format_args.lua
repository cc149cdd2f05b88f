-- varargs as format arguments
local function printf(fmt, ...) io.write(string.format(fmt, ...)) end
printf("%s has %d items costing %.2f\n", "cart", 3, 9.5)
printf("%d%%\n", 50)
local function fmtall(...)
  local parts = {}
  for i = 1, select("#", ...) do parts[i] = string.format("%q", (select(i, ...))) end
  return table.concat(parts, ",")
end
print(fmtall("a", 1, "b\n"))
