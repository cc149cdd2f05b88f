-- A request-handler workload for the latency benchmark: many distinct
-- functions (so warm-up compiles a lot), each invocation small.
local M = {}

local function checksum(s)
  local h = 0
  for i = 1, #s do h = (h * 31 + s:byte(i)) % 1000003 end
  return h
end

local function price(items)
  local total = 0.0
  for i = 1, #items do
    local it = items[i]
    total = total + it.qty * it.unit * (1 - it.discount)
  end
  return total
end

local function route(path)
  local parts = {}
  for p in path:gmatch("[^/]+") do parts[#parts + 1] = p end
  return parts[1] or "root", #parts
end

local function matrix(n)
  local m = {}
  for i = 1, n do
    local row = {}
    for j = 1, n do row[j] = (i * j) % 7 end
    m[i] = row
  end
  local s = 0
  for i = 1, n do for j = 1, n do s = s + m[i][j] * m[j][i] end end
  return s
end

local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end

function handle(i)
  local kind = i % 5
  if kind == 0 then
    return checksum("request-" .. i .. "-payload")
  elseif kind == 1 then
    local items = {}
    for k = 1, 8 do items[k] = {qty = k, unit = 1.5 * k, discount = (k % 3) / 10} end
    return price(items)
  elseif kind == 2 then
    local head, n = route("/api/v1/users/" .. i .. "/orders")
    return #head + n
  elseif kind == 3 then
    return matrix(12)
  else
    return fib(15)
  end
end

return M
