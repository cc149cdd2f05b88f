-- regression (third differential probing round): table_sort_comparator_check_small
print(pcall(table.sort, {}, 1))
print(pcall(table.sort, {5}, "x"))
