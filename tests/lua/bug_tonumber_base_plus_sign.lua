-- regression (found by differential probing): tonumber_base_plus_sign
print(tonumber("+1", 2), tonumber("+ff", 16))
