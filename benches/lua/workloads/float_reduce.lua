function run(n)
  local acc = 0.0
  for i = 0, n - 1 do acc = acc * 0.999 + i * 0.5 end
  return acc
end
