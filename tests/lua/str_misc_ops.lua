-- assorted string utilities written in Lua
local function trim(s) return (s:gsub("^%s+", ""):gsub("%s+$", "")) end
local function split(s, sep)
  local out = {}
  for piece in (s .. sep):gmatch("(.-)" .. sep:gsub("%p", "%%%0")) do out[#out + 1] = piece end
  return out
end
print("[" .. trim("   padded  \t\n") .. "]")
local p = split("a,b,,c", ",")
print(#p, table.concat(p, "|"))
local q = split("one.two.three", ".")
print(#q, table.concat(q, " "))
local function startswith(s, pre) return s:sub(1, #pre) == pre end
print(startswith("foobar", "foo"), startswith("foobar", "bar"))
local function capitalize(s) return (s:gsub("(%a)(%w*)", function(a, b) return a:upper() .. b end)) end
print(capitalize("the quick brown fox"))
