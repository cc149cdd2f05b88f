-- two closures sharing one upvalue
local function make()
  local v = 0
  local function get() return v end
  local function set(x) v = x end
  return get, set
end
local g, s = make()
print(g())
s(42)
print(g())
local g2, s2 = make()
s2(7)
print(g(), g2())
