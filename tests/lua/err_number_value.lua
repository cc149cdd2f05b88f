-- uncaught error with a number value
print("start")
error(42)
