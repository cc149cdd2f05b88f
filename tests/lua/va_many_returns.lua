-- many return values and arguments
local function gen(n) local t = {} for i = 1, n do t[i] = i end return table.unpack(t) end
print(select("#", gen(250)))
local function sumall(...) local s = 0 for _, v in ipairs({...}) do s = s + v end return s end
print(sumall(gen(250)))
print(math.max(gen(100)), math.min(gen(100)))
print(string.char(gen(0)) == "")
