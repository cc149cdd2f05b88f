-- generic for with custom stateless and stateful iterators
local function range(n)
  return function(state, i) if i < state then return i + 1 end end, n, 0
end
for i in range(4) do io.write(i, " ") end print()
local function chars(s)
  local i = 0
  return function() i = i + 1; if i <= #s then return i, s:sub(i, i) end end
end
for i, c in chars("xyz") do io.write(i, c, " ") end print()
local function evens(t)
  return function(t, i)
    i = i + 2
    if t[i] ~= nil then return i, t[i] end
  end, t, 0
end
for i, v in evens({"a", "b", "c", "d", "e"}) do io.write(i, v, " ") end print()
for k, v in next, {"only"} do print(k, v) end
