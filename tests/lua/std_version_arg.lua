-- _VERSION, arg table and globals _G
print(_VERSION)
print(type(arg), arg[0])
print(type(_G), _G._G == _G, _G.print == print)
x_global = 5
print(_G.x_global, _G["x_global"])
_G.y_global = 7
print(y_global)
