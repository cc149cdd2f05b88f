-- select with positive and negative indices
print(select("#"), select("#", nil), select("#", 1, nil, nil))
print(select(2, "a", "b", "c"))
print(select(-1, "a", "b", "c"))
print(select(-2, "a", "b", "c"))
print(select(4, "a", "b", "c"))
print(pcall(select, 0, "a"))
print(pcall(select, -5, "a"))
