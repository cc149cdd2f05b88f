-- multiple results adjusted in middle of lists and parentheses
local function three() return 1, 2, 3 end
print(three(), three())
print((three()))
print(three(), "end")
local t = {three(), three(), nil}
print(#t)
local a, b, c, d = three()
print(a, b, c, d)
local x, y = 10, three()
print(x, y)
print(#{three(), (three())})
print(math.max(three()), string.format("%d-%d-%d", three()))
