-- string arithmetic result types follow the converted numbers
print("10" * "2", "10" * "2.0", "0x10" // 1, "7" % "4", "2" ^ 2)
print(math.type("10" * "2"), math.type("10" * "2.0"), math.type("1e1" + 0))
print("  0x1F  " + 0, "1e-2" + 0, "-.5" * 2)
print(10 .. "", ("5" + 0) .. "", "3" - "1")
print(pcall(function() return "1" + "x" end))
print(pcall(function() return "" + 1 end))
