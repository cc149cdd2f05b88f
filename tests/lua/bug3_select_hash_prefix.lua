-- regression (third differential probing round): select_hash_prefix
print(pcall(select, '#x', 1, 2))
