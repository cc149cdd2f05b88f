-- word frequency count with deterministic ordering
local text = [[It was the best of times, it was the worst of times, it was the age of
wisdom, it was the age of foolishness, it was the epoch of belief]]
local freq = {}
for w in text:lower():gmatch("%a+") do freq[w] = (freq[w] or 0) + 1 end
local words = {}
for w, c in pairs(freq) do words[#words + 1] = {w = w, c = c} end
table.sort(words, function(a, b) if a.c ~= b.c then return a.c > b.c end return a.w < b.w end)
for i = 1, 6 do print(words[i].w, words[i].c) end
print(#words)
