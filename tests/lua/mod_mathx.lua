-- helper module (not a test): small math utilities
local M = {}
M.loads = (M.loads or 0) + 1
function M.square(x) return x * x end
function M.clamp(x, lo, hi) if x < lo then return lo elseif x > hi then return hi end return x end
M.name = ...
return M
