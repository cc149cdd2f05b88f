-- select with negative index and with '#'
local function tailn(n, ...) return select(-n, ...) end
print(tailn(1, "a", "b", "c"))
print(tailn(3, "a", "b", "c"))
print(select(2, table.unpack({10, 20, 30})))
print(select("#", select(2, 1, 2, 3)))
print(pcall(select, "x", 1))
