-- require caches modules in package.loaded
local a = require("mod_counter")
local b = require("mod_counter")
print(a == b, mod_counter_loads)
print(a.inc(), b.inc(), a.inc())
print(require("mod_counter").inc())
