-- xor and bitwise not identities
local vals = {0, 1, -1, 0x5555, math.maxinteger, math.mininteger}
for _, v in ipairs(vals) do
  print(v, ~v, v ~ v, v ~ -1 == ~v, ~~v == v, string.format("%x", v ~ 0xFF))
end
print(~0 == -1, ~math.maxinteger == math.mininteger)
