-- %b balanced match
print(string.match("f(a(b)c)d", "%b()"))
print(string.gsub("x = [1, [2, 3]] + [4]", "%b[]", "L"))
print(string.match("no parens", "%b()"))
print(string.match("((unbalanced)", "%b()"))
print(string.match("{a}{b}", "%b{}"), string.match("'quoted' text", "%b''"))
for block in string.gmatch("<x><y<z>>", "%b<>") do io.write(block, ";") end print()
