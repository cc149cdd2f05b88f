-- regression (code review): remove keeps values rooted while metamethods may collect
-- table.remove keeps the removed value in a Rust local across __index/__newindex calls
local backing = {}
local keep = {}
local p = setmetatable({}, {
  __len = function() return 3 end,
  __index = function(_, i) return backing[i] or {tag = "fresh" .. i .. string.rep("z", 50)} end,
  __newindex = function(_, i, v)
    collectgarbage()
    for j = 1, 50 do keep[#keep + 1] = {tag = j} end  -- reuse freed memory
    backing[i] = v
  end,
})
local v = table.remove(p, 1)
print(v.tag)
