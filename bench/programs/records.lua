-- bench: record tables: field-heavy particle structs created, updated, copied and aggregated
-- luajit: yes
local NP = 3000
local STEPS = 2400
local DT = 0.05
local WIDTH, HEIGHT = 100.0, 80.0

local function new_particle(i)
  return {
    id = i,
    x = (i % 37) * 2.5 + 1.0,
    y = (i % 29) * 2.5 + 1.0,
    vx = ((i * 7) % 13 - 6) * 0.9,
    vy = ((i * 11) % 17 - 8) * 0.7,
    mass = 1.0 + (i % 5),
    charge = (i % 3) - 1,
    bounces = 0,
    alive = true,
  }
end

local function clone(p)
  return {
    id = p.id, x = p.x, y = p.y, vx = p.vx, vy = p.vy,
    mass = p.mass, charge = p.charge, bounces = p.bounces, alive = p.alive,
  }
end

local particles = {}
for i = 1, NP do particles[i] = new_particle(i) end

local snapshots = {}
local box = { minx = 0.0, maxx = 0.0, miny = 0.0, maxy = 0.0 }

for step = 1, STEPS do
  local cx, cy = WIDTH * 0.5, HEIGHT * 0.5
  for i = 1, NP do
    local p = particles[i]
    if p.alive then
      -- a weak pull toward the centre, modulated by charge
      local dx, dy = cx - p.x, cy - p.y
      local k = 0.02 * (1 + p.charge * 0.5) / p.mass
      p.vx = p.vx + dx * k * DT
      p.vy = p.vy + dy * k * DT - 0.3 * DT
      p.x = p.x + p.vx * DT
      p.y = p.y + p.vy * DT
      if p.x < 0.0 then p.x = -p.x; p.vx = -p.vx * 0.95; p.bounces = p.bounces + 1 end
      if p.x > WIDTH then p.x = 2 * WIDTH - p.x; p.vx = -p.vx * 0.95; p.bounces = p.bounces + 1 end
      if p.y < 0.0 then p.y = -p.y; p.vy = -p.vy * 0.95; p.bounces = p.bounces + 1 end
      if p.y > HEIGHT then p.y = 2 * HEIGHT - p.y; p.vy = -p.vy * 0.95; p.bounces = p.bounces + 1 end
      if p.bounces > 9 then p.alive = false end
    end
  end
  -- bounding box record
  box.minx, box.maxx, box.miny, box.maxy = WIDTH, 0.0, HEIGHT, 0.0
  for i = 1, NP do
    local p = particles[i]
    if p.x < box.minx then box.minx = p.x end
    if p.x > box.maxx then box.maxx = p.x end
    if p.y < box.miny then box.miny = p.y end
    if p.y > box.maxy then box.maxy = p.y end
  end
  if step % 250 == 0 then
    local snap = {}
    for i = 1, NP do snap[i] = clone(particles[i]) end
    snapshots[#snapshots + 1] = { step = step, items = snap, box = { minx = box.minx, maxx = box.maxx } }
  end
end

local energy, sx, sy, bounces, alive = 0.0, 0.0, 0.0, 0, 0
for i = 1, NP do
  local p = particles[i]
  energy = energy + 0.5 * p.mass * (p.vx * p.vx + p.vy * p.vy)
  sx = sx + p.x
  sy = sy + p.y
  bounces = bounces + p.bounces
  if p.alive then alive = alive + 1 end
end
local snapsum = 0.0
for s = 1, #snapshots do
  local snap = snapshots[s]
  for i = 1, #snap.items, 50 do snapsum = snapsum + snap.items[i].x * snap.step end
  snapsum = snapsum + snap.box.maxx - snap.box.minx
end
print(string.format("energy=%.6f sx=%.6f sy=%.6f bounces=%d alive=%d snaps=%d snapsum=%.6f",
  energy, sx, sy, bounces, alive, #snapshots, snapsum))
