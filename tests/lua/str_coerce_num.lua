-- numbers used where strings expected and vice versa
print(("x"):rep("3"), string.rep(5, 2), string.len(123), string.upper(1e3))
print(#tostring(12.0), math.type(("5") + 0))
print(string.sub(12345, 2, 3), string.byte(7))
print(10 == "10", tostring(10) == "10")
