-- assert returns all its arguments on success
print(assert(1, "unused", 3))
print(assert(true))
print(pcall(assert, false))
print(pcall(assert, nil, "custom message"))
print(pcall(assert, false, 42))
local ok, e = pcall(assert, false, {code = 7})
print(ok, type(e), e.code)
print(pcall(assert))
