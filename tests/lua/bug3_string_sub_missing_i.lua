-- regression (third differential probing round): string_sub_missing_i
print(pcall(string.sub, "abc"))
print(pcall(string.sub, "abc", nil))
