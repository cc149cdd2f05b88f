-- bench: Mandelbrot escape-time iteration over a pixel grid (tight float arithmetic in while loops)
-- luajit: yes
local W, H = 1100, 1100
local MAXIT = 200

local inside, itsum = 0, 0
local escaped_mag = 0.0
for py = 0, H - 1 do
  local ci = (py / H) * 2.4 - 1.2
  for px = 0, W - 1 do
    local cr = (px / W) * 3.0 - 2.2
    local zr, zi, zr2, zi2 = 0.0, 0.0, 0.0, 0.0
    local it = 0
    while it < MAXIT and zr2 + zi2 <= 4.0 do
      zi = 2.0 * zr * zi + ci
      zr = zr2 - zi2 + cr
      zr2 = zr * zr
      zi2 = zi * zi
      it = it + 1
    end
    if it == MAXIT then
      inside = inside + 1
    else
      escaped_mag = escaped_mag + (zr2 + zi2) / (it + 1)
    end
    itsum = itsum + it
  end
end

-- a coarse ASCII row through the middle, as a visual checksum
local chars = {}
local py = H / 2
local ci = (py / H) * 2.4 - 1.2
for px = 0, 59 do
  local cr = (px / 60) * 3.0 - 2.2
  local zr, zi, it = 0.0, 0.0, 0
  while it < 50 and zr * zr + zi * zi <= 4.0 do
    zr, zi = zr * zr - zi * zi + cr, 2.0 * zr * zi + ci
    it = it + 1
  end
  chars[#chars + 1] = (it == 50) and "#" or ((it > 10) and "+" or ".")
end

print(string.format("inside=%d iterations=%d mag=%.6f", inside, itsum, escaped_mag))
print(table.concat(chars))
