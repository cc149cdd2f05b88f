-- regression (third differential probing round): syntax_invalid_long_delim
print(load("x = [=", "=t"))
print(load("x = [==x", "=t"))
