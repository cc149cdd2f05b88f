-- io.write formats floats with %.14g (no ".0" suffix), unlike print/tostring
io.write(1.0, " ", -2.0, " ", 100.0, " ", 0.5, " ", 1e15, " ", 2^53, "\n")
print(1.0, -2.0, 100.0, 0.5, 1e15, 2^53)
io.write(tostring(1.0), " ", 3 / 1, " ", 7 // 1, "\n")
io.write(1 / 0, " ", -1 / 0, " ", math.pi, "\n")
