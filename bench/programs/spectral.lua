-- bench: power iteration on an implicitly defined dense matrix (float dot products, integer index arithmetic)
-- luajit: no (uses // integer division)
local N = 600
local ITERS = 80

-- entry of a symmetric positive matrix computed on the fly
local function entry(i, j)
  local s = i + j
  local d = i - j
  if d < 0 then d = -d end
  return 1.0 / (1 + d + (s * (s + 1)) // 2 % 13)
end

local function mat_vec(v, out, n)
  for i = 1, n do
    local s = 0.0
    for j = 1, n do
      s = s + entry(i, j) * v[j]
    end
    out[i] = s
  end
end

local function dot(a, b, n)
  local s = 0.0
  for i = 1, n do s = s + a[i] * b[i] end
  return s
end

local function normalize(v, n)
  local len = math.sqrt(dot(v, v, n))
  for i = 1, n do v[i] = v[i] / len end
  return len
end

local v, w = {}, {}
for i = 1, N do v[i] = 1.0 + (i % 3) * 0.1; w[i] = 0.0 end
normalize(v, N)
local lambda = 0.0
for it = 1, ITERS do
  mat_vec(v, w, N)
  lambda = dot(v, w, N)
  normalize(w, N)
  v, w = w, v
end
-- Rayleigh quotient after a final step, and the residual
mat_vec(v, w, N)
local rq = dot(v, w, N)
local resid = 0.0
for i = 1, N do
  local r = w[i] - rq * v[i]
  resid = resid + r * r
end
print(string.format("lambda=%.9f rq=%.9f resid=%.12f v1=%.9f vn=%.9f", lambda, rq, math.sqrt(resid), v[1], v[N]))
