-- require a helper module and use its functions
local m = require("mod_mathx")
print(type(m), m.square(7), m.clamp(15, 0, 10), m.clamp(-3, 0, 10))
print(m.name)
