-- regression (third differential probing round): io_write_return
print(select('#', io.write("")))
print(io.write("") == nil)
