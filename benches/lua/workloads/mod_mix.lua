function run(n)
  local acc = 0
  for i = 0, n - 1 do acc = acc + (i % 7) * (i % 13) end
  return acc
end
