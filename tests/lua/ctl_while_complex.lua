-- while/repeat with complex conditions and early exits
local a, b = 0, 100
while a < b and (b - a) > 3 do a = a + 7; b = b - 5 end
print(a, b)
local digits = {}
local n = 9075
repeat digits[#digits + 1] = n % 10; n = n // 10 until n == 0
print(table.concat(digits, ""))
local function find_first(t, pred)
  local i = 1
  while t[i] ~= nil do
    if pred(t[i]) then return i, t[i] end
    i = i + 1
  end
  return nil
end
print(find_first({4, 8, 15, 16, 23}, function(x) return x % 2 == 1 end))
print(find_first({2, 4}, function(x) return x > 10 end))
