-- os.exit(true) exits successfully after printing
local t = {}
for i = 1, 3 do t[i] = i * 2 end
print(table.concat(t, ","))
os.exit(true)
