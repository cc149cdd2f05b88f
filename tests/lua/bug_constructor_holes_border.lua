-- table constructors size the array part, so # of a constructor with holes matches PUC Lua
print(#{1, nil, 3}, #{nil, nil, 3}, #{1, nil}, #{nil}, #{1, 2, nil, 4})
print(select('#', table.unpack({1, nil, 3})))
print(#table.pack(1, nil, 3), table.pack(1, nil, 3).n)
local function f(...) return #{...} end
print(f(1, nil, 3), f(nil, 2), f())
print((tostring(print):gsub("0x%x+", "ADDR")), (tostring(f):gsub("0x%x+", "ADDR")))
print(pcall(table.remove, {1, 2, 3}, 7))
print(pcall(function() table.remove({}, 7) end))
