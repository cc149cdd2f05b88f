-- regression (found by differential probing): for_iterator_name
print(pcall(function() for k in nil do end end))
