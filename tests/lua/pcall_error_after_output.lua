-- side effects before an error remain visible
local t = {}
local ok, e = pcall(function()
  t[1] = "done"
  io.write("partial output\n")
  error("stop")
  t[2] = "never"
end)
print(ok, e, t[1], t[2])
local count = 0
for i = 1, 5 do
  local ok2 = pcall(function() if i % 2 == 0 then error("even") end count = count + 1 end)
  io.write(tostring(ok2), " ")
end
print(count)
