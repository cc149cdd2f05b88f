-- globals vs locals, undefined globals are nil
print(undefined_var)
gv = 10
local function readg() return gv end
print(readg())
gv = 20
print(readg())
local gv = 30
print(readg(), gv)
function globalfn() return "g" end
print(globalfn(), type(_G.globalfn))
