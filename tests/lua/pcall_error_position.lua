-- error positions refer to the line of the error call
local function a()
  error("from a")
end
local function b()
  local x = 1
  error("from b at line 7")
end
local function c() a() end
print(pcall(a))
print(pcall(b))
print(pcall(c))
local ok, e = pcall(function()
  local t = {}
  return t.x.y
end)
print(ok, e)
