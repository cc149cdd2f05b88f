os.exit(-1)
