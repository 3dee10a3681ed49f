function run(n)
  local acc = 0
  for i = 0, n - 1 do acc = acc + (i * 3 + 1) % 1000 end
  return acc
end
