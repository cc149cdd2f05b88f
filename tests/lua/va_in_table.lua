-- varargs captured in tables and with table.pack
local function collect(...)
  local t = {...}
  local p = table.pack(...)
  return #t, p.n
end
print(collect(1, 2, 3))
print(collect())
print(select(2, collect("a", nil, "c")))
local function last(...) local n = select("#", ...) if n > 0 then return (select(n, ...)) end end
print(last(1, 2, 3), last(), last(nil, "z"))
