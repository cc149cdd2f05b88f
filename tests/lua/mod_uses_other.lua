-- helper module (not a test): requires another helper module
local mathx = require("mod_mathx")
return {cube = function(x) return mathx.square(x) * x end}
