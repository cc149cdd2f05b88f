-- float modulo by +-infinity follows C fmod plus Lua's sign adjustment
local inf = math.huge
print(0 % -inf, 0.0 % inf, 5 % inf, 5 % -inf, -5 % inf, -5 % -inf)
print(5.5 % inf, -5.5 % -inf, inf % 2, (-inf) % 2, 0 % inf)
print(math.fmod(5, inf), math.fmod(-5, -inf))
