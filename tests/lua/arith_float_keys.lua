-- float keys normalized to integer keys in tables
local t = {}
t[1.0] = "a"
t[2] = "b"
print(t[1], t[2.0], #t)
t[3.5] = "c"
print(t[3.5], t[3])
t[2^53] = "big"
print(t[9007199254740992])
local k = next({[4.0] = true})
print(k, math.type(k))
local u = {[1] = "x", [1.0] = "y"}
print(u[1])
t[-0.0] = "z"
print(t[0])
