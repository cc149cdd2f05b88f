-- state machine implemented with goto
local input = "aabbbc"
local i, out = 1, {}
::state_a::
if input:sub(i, i) == "a" then out[#out + 1] = "A"; i = i + 1; goto state_a end
::state_b::
if input:sub(i, i) == "b" then out[#out + 1] = "B"; i = i + 1; goto state_b end
if i <= #input then out[#out + 1] = "?" .. input:sub(i, i); i = i + 1; goto state_b end
print(table.concat(out))
