-- uncaught assert(nil) uses default message
print("asserting nil")
assert(nil)
