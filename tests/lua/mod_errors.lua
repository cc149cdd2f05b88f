-- helper module (not a test): raises an error while loading
error("module failed to initialise", 0)
