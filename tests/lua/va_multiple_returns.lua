-- multiple return values in various positions
local function mr() return "a", "b" end
local function none() end
print(mr())
print(none())
print(select("#", none()))
print((none()))
local t = {none(), none()}
print(#t)
local s = mr() .. "!"
print(s)
print(({mr()})[2] == "b")
local function tail() return mr() end
print(tail())
