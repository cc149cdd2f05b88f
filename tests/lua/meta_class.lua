-- simple class with methods via __index = Class
local Account = {}
Account.__index = Account
function Account.new(owner, balance)
  return setmetatable({owner = owner, balance = balance or 0}, Account)
end
function Account:deposit(v) self.balance = self.balance + v; return self end
function Account:withdraw(v)
  if v > self.balance then error("insufficient funds", 2) end
  self.balance = self.balance - v
end
function Account:report() return self.owner .. ": " .. self.balance end
local acc = Account.new("ann", 100)
acc:deposit(50):deposit(25)
acc:withdraw(30)
print(acc:report())
print(pcall(acc.withdraw, acc, 1000))
print(getmetatable(acc) == Account, acc.deposit == Account.deposit)
