-- regression (found by differential probing): format_width_too_long
print(pcall(string.format, "%100d", 1))
