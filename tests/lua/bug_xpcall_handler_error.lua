-- regression (found by differential probing): xpcall_handler_error
print(xpcall(error, function(m) error("in handler") end, "x"))
print("after")
