-- regression (third differential probing round): syntax_unicode_escape_msg
print(load("x = '\\u{12'", "=t"))
print(load("x = '\\u12'", "=t"))
