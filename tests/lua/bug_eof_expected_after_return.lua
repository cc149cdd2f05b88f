-- regression (found by differential probing): eof_expected_after_return
print(load("return 1 x", "=c"))
print(load("if x then return 1 y end", "=c"))
