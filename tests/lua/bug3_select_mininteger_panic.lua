-- regression (third differential probing round): select_mininteger_panic
print(pcall(select, math.mininteger))
