-- uncaught integer division by zero
-- (both divisions share one line: lua5.4.4 reports integer '//' and '%'
-- errors at the line of the last instruction that saved its pc, a quirk
-- Ember does not copy; see tests/lua/README.md)
local a, b = 10, 0
print(a / b) print(a // b)
