-- bench: dense float matrix multiplication on arrays of arrays (naive ijk and cache-friendly ikj variants)
-- luajit: yes
local N = 290

local function matgen(n, seed)
  local m = {}
  for i = 1, n do
    local row = {}
    for j = 1, n do
      row[j] = ((i * 13 + j * 7 + seed) % 17 - 8) / 9
    end
    m[i] = row
  end
  return m
end

local function mul_ijk(a, b, n)
  local c = {}
  for i = 1, n do
    local ai = a[i]
    local ci = {}
    for j = 1, n do
      local s = 0.0
      for k = 1, n do
        s = s + ai[k] * b[k][j]
      end
      ci[j] = s
    end
    c[i] = ci
  end
  return c
end

local function mul_ikj(a, b, n)
  local c = {}
  for i = 1, n do
    local ci = {}
    for j = 1, n do ci[j] = 0.0 end
    local ai = a[i]
    for k = 1, n do
      local aik = ai[k]
      local bk = b[k]
      for j = 1, n do
        ci[j] = ci[j] + aik * bk[j]
      end
    end
    c[i] = ci
  end
  return c
end

local function transpose(m, n)
  local t = {}
  for i = 1, n do
    local row = {}
    for j = 1, n do row[j] = m[j][i] end
    t[i] = row
  end
  return t
end

local function trace(m, n)
  local s = 0.0
  for i = 1, n do s = s + m[i][i] end
  return s
end

local function total(m, n)
  local s = 0.0
  for i = 1, n do
    local row = m[i]
    for j = 1, n do s = s + row[j] * ((i + j) % 3 + 1) end
  end
  return s
end

local a = matgen(N, 1)
local b = matgen(N, 5)
local c1 = mul_ijk(a, b, N)
local c2 = mul_ikj(a, b, N)
local maxdiff = 0.0
for i = 1, N do
  for j = 1, N do
    local d = math.abs(c1[i][j] - c2[i][j])
    if d > maxdiff then maxdiff = d end
  end
end
local d = mul_ikj(c2, transpose(a, N), N)
local e = mul_ijk(d, b, N)
print(string.format("trace=%.6f total=%.6f trace_d=%.6f total_e=%.4f close=%s",
  trace(c1, N), total(c1, N), trace(d, N), total(e, N), tostring(maxdiff < 1e-9)))
