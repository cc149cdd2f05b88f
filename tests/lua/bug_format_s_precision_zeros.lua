-- regression (found by differential probing): format_s_precision_zeros
print(pcall(string.format, "%.2s", "a\0b"))
