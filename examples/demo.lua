-- Ember demo: a small request-handling workload. Run it with
--   cargo run --release --bin ember -- run --stats examples/demo.lua
-- stdout is identical to `lua5.4 examples/demo.lua`; --stats adds what the
-- interpreter learned (call counts, loop back-edges, hottest functions).

local Account = {}
Account.__index = Account

function Account.new(id, balance) return setmetatable({id = id, balance = balance, log = {}}, Account) end

function Account:apply(kind, amount)
  if kind == "deposit" then
    self.balance = self.balance + amount
  elseif amount <= self.balance then
    self.balance = self.balance - amount
  else
    self.log[#self.log + 1] = string.format("rejected %s of %.2f", kind, amount)
    return false
  end
  return true
end

local function parse(line)
  local id, kind, amount = line:match("^(%d+)%s+(%a+)%s+([%d%.]+)$")
  return tonumber(id), kind, tonumber(amount)
end

local accounts = {}
for i = 1, 50 do accounts[i] = Account.new(i, i * 10) end

local kinds = {"deposit", "withdraw", "withdraw"}
local ok, rejected = 0, 0
for n = 1, 200000 do
  local line = string.format("%d %s %d.%02d", n % 50 + 1, kinds[n % 3 + 1], n % 97, n % 100)
  local id, kind, amount = parse(line)
  if accounts[id]:apply(kind, amount) then ok = ok + 1 else rejected = rejected + 1 end
end

local total = 0
for _, a in ipairs(accounts) do total = total + a.balance end
print(string.format("requests ok=%d rejected=%d total balance=%.2f", ok, rejected, total))
print("last rejection of account 7: " .. (accounts[7].log[#accounts[7].log] or "none"))
