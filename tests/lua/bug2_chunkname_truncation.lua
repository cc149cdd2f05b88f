-- string chunk of exactly 45 chars (no newline): Lua truncates with "..."
local src = "error('x')" .. string.rep(" ", 35)
print(#src, pcall(load(src)))
-- '=' and '@' chunk names longer than LUA_IDSIZE
print(pcall(load("error('x')", "=" .. string.rep("n", 70))))
print(pcall(load("error('x')", "@" .. string.rep("d", 30) .. "/" .. string.rep("f", 36) .. ".lua")))
