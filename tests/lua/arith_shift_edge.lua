-- shifts of large and negative amounts
for _, n in ipairs({0, 1, 31, 32, 62, 63, 64, 65, -1, -63, -64}) do
  print(n, 1 << n, -1 >> n, 0x8000000000000000 >> n)
end
