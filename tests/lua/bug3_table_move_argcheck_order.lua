-- regression (third differential probing round): table_move_argcheck_order
print(pcall(table.move))
print(pcall(table.move, nil, 1, 2, 3))
