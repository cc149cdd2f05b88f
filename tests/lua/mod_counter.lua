-- helper module (not a test): counts how many times its body runs
mod_counter_loads = (mod_counter_loads or 0) + 1
local count = 0
return {
  inc = function() count = count + 1; return count end,
}
