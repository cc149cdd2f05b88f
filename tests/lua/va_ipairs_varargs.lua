-- iterating varargs with ipairs vs select (nil handling)
local function viaipairs(...) local n = 0 for _ in ipairs({...}) do n = n + 1 end return n end
local function viaselect(...) local n = 0 for i = 1, select("#", ...) do n = n + 1 end return n end
print(viaipairs(1, 2, nil, 4), viaselect(1, 2, nil, 4))
print(viaipairs(), viaselect())
