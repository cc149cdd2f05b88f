-- border of a table where only t[1] is nil (unambiguous: 0)
local t = {}
t[2] = "x"
t[3] = "y"
print(rawlen({}), #{nil, nil})
local only_hash = {}
only_hash.a = 1
print(#only_hash)
local seq = {10, 20, 30}
seq[3] = nil
print(#seq)
