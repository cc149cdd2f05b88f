-- rounding behaviors via floor/ceil and format
for _, v in ipairs({0.5, 1.5, 2.5, -0.5, -1.5, 2.675}) do
  print(v, math.floor(v + 0.5), string.format("%.0f", v), string.format("%.2f", v))
end
print(string.format("%.3f", 1/3), string.format("%.10f", 0.1))
