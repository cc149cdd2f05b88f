-- goto loop creates fresh locals per iteration for closures
local fs = {}
local i = 1
::again::
do
  local x = i
  fs[#fs + 1] = function() return x end
end
i = i + 1
if i <= 3 then goto again end
print(fs[1](), fs[2](), fs[3]())
print(load("goto nowhere"))
print(load("do ::a:: end ::a:: ::a::"))
