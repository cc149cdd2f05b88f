-- unary minus on various values
local a = 5
print(-a, - -a, -(-a), -3.5, -"3")
print(-math.mininteger == math.mininteger, -math.maxinteger)
print(-(2^63), -0, -0.0)
print(pcall(function() local x = {} return -x end))
