-- indexing a nil upvalue inside a closure
local config
local function get(key) return config[key] end
print("lookup")
print(get("x"))
