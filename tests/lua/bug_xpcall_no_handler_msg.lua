-- regression (found by differential probing): xpcall_no_handler_msg
print(pcall(xpcall, print))
