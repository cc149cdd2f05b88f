-- regression (third differential probing round): syntax_parlist_msg
print(load("x = function(1) end", "=t"))
print(load("x = function(a,) end", "=t"))
