-- %g style boundaries mirror tostring
for _, v in ipairs({1e14, 1e15, 1e16, 123456.7, 0.1, 1/3, 2^53, -1e-10, 5e-5}) do
  print(string.format("%g", v), string.format("%.14g", v), tostring(v))
end
