-- regression (third differential probing round): io_write_partial_output
print(pcall(io.write, "a", false))
