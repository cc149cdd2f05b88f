-- statements separated by semicolons and empty statements
local a = 1; local b = 2;;; local c = a + b;
print(a, b, c);
;;
local function f() ; return 5 end
print(f())
local t = {1; 2; 3}
print(#t)
