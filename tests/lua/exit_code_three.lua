-- os.exit with an integer status after printing
print("exiting with 3")
io.write("buffered text\n")
os.exit(3)
