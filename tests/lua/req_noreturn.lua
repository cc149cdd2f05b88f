-- module without return value yields true
local r = require("mod_noreturn")
print(r, mod_noreturn_ran)
print(require("mod_noreturn"))
