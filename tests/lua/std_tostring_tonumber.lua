-- round-tripping numbers through tostring/tonumber
for _, v in ipairs({0, -1, 123456789, 1.5, -0.25, 1e100, math.maxinteger, math.mininteger}) do
  local s = tostring(v)
  local back = tonumber(s)
  print(s, back == v, math.type(back))
end
