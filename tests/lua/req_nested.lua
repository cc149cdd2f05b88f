-- module requiring another module
local u = require("mod_uses_other")
print(u.cube(3), u.cube(-2))
print(require("mod_mathx").square(5))
