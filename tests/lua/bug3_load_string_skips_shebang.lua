-- regression (third differential probing round): load_string_skips_shebang
print(load("#!shebang\nreturn 1", "=t"))
print(load("# comment", "=t"))
