-- multiplication overflow and large products (wrapping)
local x = 1
for i = 1, 25 do x = x * i end
print(x)
local f = 1.0
for i = 1, 25 do f = f * i end
print(f)
print(0x100000000 * 0x100000000, 0x100000000 * 0x80000000)
print(3037000500 * 3037000500)
print(string.format("%.0f", 2^63))
print(6700417 * 641)
