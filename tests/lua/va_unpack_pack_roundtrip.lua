-- pack/unpack roundtrip preserves nils via n
local function roundtrip(...)
  local p = table.pack(...)
  return table.unpack(p, 1, p.n)
end
print(roundtrip(1, nil, 3, nil))
print(select("#", roundtrip(1, nil, 3, nil)))
print(select("#", roundtrip()))
local big = {}
for i = 1, 200 do big[i] = i end
print(select("#", table.unpack(big)), (select(200, table.unpack(big))))
