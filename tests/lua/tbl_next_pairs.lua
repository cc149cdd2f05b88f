-- pairs and next (order-independent via sorting)
local t = {10, 20, 30, a = 1, b = 2, c = 3}
local keys = {}
for k, v in pairs(t) do keys[#keys + 1] = tostring(k) .. "=" .. tostring(v) end
table.sort(keys)
print(table.concat(keys, " "))
print(next({}), type(next), next({}, nil))
local k, v = next({"only"})
print(k, v)
local count = 0
for _ in pairs(t) do count = count + 1 end
print(count)
print(pcall(next, {}, "nokey"))
