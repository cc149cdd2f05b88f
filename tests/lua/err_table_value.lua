-- uncaught error with a table value (no __tostring)
print("about to fail")
error({code = 1})
