-- nan and -nan printing and comparisons
local nan = 0/0
print(nan, -nan)
print(-(0/0))
print(nan == nan, nan ~= nan, nan < nan, nan > 1, nan <= nan)
print(math.huge - math.huge)
local t = {}
print(pcall(function() t[nan] = 1 end))
print(rawget(t, nan))
print(math.type(nan), type(nan))
print(string.format("%f %g", 1/0, -1/0))
