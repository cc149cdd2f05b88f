local function f(a, b, c)
  collectgarbage()          -- frees require's loader-data string (no longer on the stack)
  return 42
end
return f(1, 2, 3)           -- tail call overwrites require's (name, data) argument slots
