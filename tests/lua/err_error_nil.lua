-- uncaught error(nil)
print("erroring with nil")
error(nil)
