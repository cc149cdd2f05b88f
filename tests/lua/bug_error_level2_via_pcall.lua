-- regression (found by differential probing): error_level2_via_pcall
print(pcall(error, "x", 2))
