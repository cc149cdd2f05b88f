-- bench: a small register VM in Lua: text assembler plus an if-chain dispatch loop over instruction tables
-- luajit: no (uses // integer division and bitwise operators)
local SCALE = 110000

-- opcodes
local LOADK, MOV, ADD, SUB, MUL, IDIV, MOD, ADDK = 1, 2, 3, 4, 5, 6, 7, 8
local JMP, JLT, JEQ, JNZ, BXOR, SHR, BAND, HALT = 9, 10, 11, 12, 13, 14, 15, 16
local names = {
  loadk = LOADK, mov = MOV, add = ADD, sub = SUB, mul = MUL, idiv = IDIV, mod = MOD, addk = ADDK,
  jmp = JMP, jlt = JLT, jeq = JEQ, jnz = JNZ, bxor = BXOR, shr = SHR, band = BAND, halt = HALT,
}

-- assemble "op a b c" lines; labels end with ':'; register operands are rN, jump targets are labels
local function assemble(src)
  local code, labels, fixups = {}, {}, {}
  for line in string.gmatch(src, "[^\n]+") do
    line = string.gsub(line, ";.*$", "")
    local label = string.match(line, "^%s*([%w_]+):%s*$")
    if label then
      labels[label] = #code + 1
    else
      local op, rest = string.match(line, "^%s*(%a+)%s*(.*)$")
      if op then
        local opc = names[op]
        if not opc then error("unknown op " .. op) end
        local ins = { opc, 0, 0, 0 }
        local k = 2
        for arg in string.gmatch(rest, "[^%s,]+") do
          local reg = string.match(arg, "^r(%d+)$")
          if reg then
            ins[k] = tonumber(reg)
          elseif string.match(arg, "^%-?%d+$") then
            ins[k] = tonumber(arg)
          else
            fixups[#fixups + 1] = { ins, k, arg }
          end
          k = k + 1
        end
        code[#code + 1] = ins
      end
    end
  end
  for _, f in ipairs(fixups) do
    local target = labels[f[3]]
    if not target then error("unknown label " .. f[3]) end
    f[1][f[2]] = target
  end
  return code
end

local function run(code, regs)
  local pc = 1
  local steps = 0
  ::dispatch::
  local ins = code[pc]
  local op, a, b, c = ins[1], ins[2], ins[3], ins[4]
  steps = steps + 1
  pc = pc + 1
  if op == ADD then regs[a] = regs[b] + regs[c]
  elseif op == ADDK then regs[a] = regs[b] + c
  elseif op == JLT then if regs[a] < regs[b] then pc = c end
  elseif op == MOD then regs[a] = regs[b] % regs[c]
  elseif op == MUL then regs[a] = regs[b] * regs[c]
  elseif op == MOV then regs[a] = regs[b]
  elseif op == SUB then regs[a] = regs[b] - regs[c]
  elseif op == JNZ then if regs[a] ~= 0 then pc = b end
  elseif op == JEQ then if regs[a] == regs[b] then pc = c end
  elseif op == JMP then pc = a
  elseif op == IDIV then regs[a] = regs[b] // regs[c]
  elseif op == LOADK then regs[a] = b
  elseif op == BXOR then regs[a] = regs[b] ~ regs[c]
  elseif op == SHR then regs[a] = regs[b] >> c
  elseif op == BAND then regs[a] = regs[b] & regs[c]
  elseif op == HALT then return steps
  else error("bad opcode " .. tostring(op)) end
  goto dispatch
end

-- sum of i*i mod m for i in [0, n)
local sumsq = assemble([[
  loadk r1 0        ; i
  loadk r3 0        ; acc
  loadk r4 1000003  ; modulus
loop:
  mul r5 r1 r1
  add r3 r3 r5
  mod r3 r3 r4
  addk r1 r1 1
  jlt r1 r2 loop
  halt
]])

-- gcd of many pairs (Euclid), accumulating results
local gcds = assemble([[
  loadk r1 1        ; i
  loadk r3 0        ; acc
outer:
  mov r5 r1
  loadk r6 7919
  mul r6 r6 r1
  loadk r7 65536
  mod r6 r6 r7      ; b = (i*7919) % 65536
  addk r6 r6 1
inner:
  mod r8 r5 r6
  mov r5 r6
  mov r6 r8
  jnz r6 inner
  add r3 r3 r5
  addk r1 r1 1
  jlt r1 r2 outer
  halt
]])

-- xorshift-style hash mixing with bitwise ops and integer division
local mix = assemble([[
  loadk r1 0
  loadk r3 2166136261
  loadk r4 16777619
  loadk r5 4294967295
  loadk r9 3
again:
  bxor r3 r3 r1
  mul r3 r3 r4
  band r3 r3 r5
  shr r6 r3 13
  bxor r3 r3 r6
  idiv r7 r3 r9
  sub r3 r3 r7
  addk r1 r1 1
  jlt r1 r2 again
  halt
]])

local out = {}
local total_steps = 0
local regs = {}
for i = 0, 9 do regs[i] = 0 end

regs[2] = SCALE * 20
total_steps = total_steps + run(sumsq, regs)
out[#out + 1] = regs[3]

regs[2] = SCALE
total_steps = total_steps + run(gcds, regs)
out[#out + 1] = regs[3]

regs[2] = SCALE * 10
total_steps = total_steps + run(mix, regs)
out[#out + 1] = regs[3]

out[#out + 1] = total_steps
print(table.concat(out, " "))
