-- do blocks limit local scope and allow early return-like goto
local x = 1
do
  local x = 2
  do
    local y = x * 10
    print(x, y)
  end
end
print(x)
local function early(flag)
  if flag then return "early" end
  do return "late" end
end
print(early(true), early(false))
