-- select('#') counts trailing nils
local function count(...) return select("#", ...) end
print(count(), count(nil), count(nil, nil), count(1, nil), count(nil, 1))
local function pass(...) return ... end
print(count(pass(1, nil, nil)), count(pass()))
print(count(table.unpack({1, 2, nil, 4}, 1, 4)))
