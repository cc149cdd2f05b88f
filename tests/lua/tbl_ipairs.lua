-- ipairs stops at first nil
local t = {1, 2, nil, 4}
for i, v in ipairs(t) do io.write(i, "=", v, " ") end print()
local u = {n = 1, "a", "b"}
for i, v in ipairs(u) do io.write(i, v, " ") end print()
for i, v in ipairs({}) do print("never") end
local f, s, i0 = ipairs({})
print(type(f), type(s), i0)
local proxy = setmetatable({}, {__index = function(_, i) if i <= 3 then return i * 10 end end})
for i, v in ipairs(proxy) do io.write(i, ":", v, " ") end print()
