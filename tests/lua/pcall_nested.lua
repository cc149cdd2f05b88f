-- nested pcall and rethrowing errors
local function inner() error("inner failure") end
local function middle()
  local ok, e = pcall(inner)
  error("middle caught: " .. e, 0)
end
print(pcall(middle))
local ok, e = pcall(function()
  local ok2, e2 = pcall(error, {lvl = 1})
  e2.lvl = e2.lvl + 1
  error(e2)
end)
print(ok, e.lvl)
print(pcall(pcall, error, "x"))
print(pcall(pcall))
