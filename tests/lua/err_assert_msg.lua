-- uncaught assert with message
print("asserting")
assert(1 == 1, "fine")
assert(false, "msg")
