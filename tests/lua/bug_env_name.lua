-- regression (found by differential probing): reading _ENV gives the globals table
print(_ENV == _G)
print(_ENV.print == print, type(_ENV.print))
_ENV.fresh_global = 42
print(fresh_global)
