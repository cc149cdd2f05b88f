-- ember-sim's built-in workload: the handlers of a small shop service.
-- Each exported function is one request type; a request does enough work
-- (loops over numbers, strings and tables) that the tier it runs in shows
-- in its latency, and the mix has enough distinct functions that warming
-- them all takes a cold node a while. Every handler is deterministic.
local M = {}

local Item = {}
Item.__index = Item
function Item.new(id, price, qty) return setmetatable({id = id, price = price, qty = qty}, Item) end
function Item:total(rate) return self.price * self.qty * (1 - rate) end

-- Sum of a cart of n items at a discount rate (float arithmetic, methods).
function M.price(n, rate)
  local sum = 0.0
  for i = 1, n do
    local it = Item.new(i, 1.25 * (i % 17 + 1), i % 5 + 1)
    sum = sum + it:total(rate)
  end
  return math.floor(sum * 100) / 100
end

-- A rolling hash over a generated payload (string bytes, integer ops).
function M.checksum(n)
  local parts = {}
  for i = 1, 16 do parts[i] = string.format("%d:%d", n, i * i) end
  local s = table.concat(parts, ",")
  local h = 0
  for r = 1, 600 do
    for i = 1, #s do h = (h * 31 + s:byte(i) + r) % 1000003 end
  end
  return h
end

-- Splits a request path and counts segment kinds (patterns, tables).
function M.route(n)
  local path = "/api/v" .. (n % 3 + 1) .. "/users/" .. n .. "/orders/" .. (n * 7) .. "/items"
  local words, numbers = 0, 0
  for _ = 1, 600 do
    for seg in path:gmatch("[^/]+") do
      if tonumber(seg) then numbers = numbers + 1 else words = words + 1 end
    end
  end
  return words, numbers
end

-- Integer matrix product trace (nested loops over arrays).
function M.matrix(n)
  local a, b = {}, {}
  for i = 1, n do
    local ra, rb = {}, {}
    for j = 1, n do ra[j] = (i * j) % 11; rb[j] = (i + j) % 7 end
    a[i], b[i] = ra, rb
  end
  local trace = 0
  for i = 1, n do
    local ai = a[i]
    for k = 1, n do
      local aik, bk = ai[k], b[k]
      trace = trace + aik * bk[i]
    end
  end
  return trace
end

-- Scores inventory records by field (hash-part tables, branches).
function M.inventory(n)
  local best, total = 0, 0
  for i = 1, n do
    local rec = {sku = i, stock = (i * 37) % 101, reserved = (i * 11) % 13}
    local free = rec.stock - rec.reserved
    if free > best then best = free end
    if free > 0 then total = total + free else total = total - 1 end
  end
  return best, total
end

local function fib(k) if k < 2 then return k end return fib(k - 1) + fib(k - 2) end

-- Recursive calls.
function M.recommend(n) return fib(21 + n % 3) end

-- A float iteration per request (the kind of loop tier 2 unboxes).
function M.forecast(n, growth)
  local x, s = 1.0, 0.0
  for i = 1, 30000 + n % 5000 do
    x = x * growth + 0.5
    if x > 1000.0 then x = x / 3.0 end
    s = s + x
  end
  return math.floor(s)
end

-- Collatz steps summed over a range (integer loop, branches).
function M.audit(n)
  local steps = 0
  for v = n, n + 3000 do
    local x = v
    while x ~= 1 do
      if x % 2 == 0 then x = x // 2 else x = 3 * x + 1 end
      steps = steps + 1
    end
  end
  return steps
end

return M
