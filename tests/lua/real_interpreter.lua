-- tiny stack-based interpreter with a recursive-descent expression compiler
local function compile(src)
  local pos, code = 1, {}
  local function peek() return src:match("^%s*(%S)", pos) end
  local function skip() pos = src:find("%S", pos) or #src + 1 end
  local expr
  local function atom()
    skip()
    local n = src:match("^%d+", pos)
    if n then pos = pos + #n; code[#code + 1] = {"push", tonumber(n)}; return end
    local v = src:match("^%a+", pos)
    if v then pos = pos + #v; code[#code + 1] = {"load", v}; return end
    if peek() == "(" then skip(); pos = pos + 1; expr(); skip(); pos = pos + 1; return end
    error("parse error at " .. pos)
  end
  local function term()
    atom()
    while peek() == "*" or peek() == "/" or peek() == "%" do
      skip(); local op = src:sub(pos, pos); pos = pos + 1; atom(); code[#code + 1] = {op}
    end
  end
  function expr()
    term()
    while peek() == "+" or peek() == "-" do
      skip(); local op = src:sub(pos, pos); pos = pos + 1; term(); code[#code + 1] = {op}
    end
  end
  expr()
  return code
end
local function run(code, env)
  local stack = {}
  for _, ins in ipairs(code) do
    local op = ins[1]
    if op == "push" then stack[#stack + 1] = ins[2]
    elseif op == "load" then stack[#stack + 1] = env[ins[2]] or error("unbound " .. ins[2], 0)
    else
      local b = table.remove(stack); local a = table.remove(stack)
      if op == "+" then a = a + b elseif op == "-" then a = a - b
      elseif op == "*" then a = a * b elseif op == "/" then a = a // b else a = a % b end
      stack[#stack + 1] = a
    end
  end
  return stack[1]
end
local env = {x = 7, y = 3}
for _, src in ipairs({"1 + 2 * 3", "(1 + 2) * 3", "x * x - y", "100 / (x - y) % 7", "2 * (x + (y * (4 - 1)))"}) do
  local code = compile(src)
  print(src, "=>", run(code, env), "(" .. #code .. " ops)")
end
print(pcall(run, compile("z + 1"), env))
