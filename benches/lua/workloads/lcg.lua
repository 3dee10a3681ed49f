function run(n)
  local acc = 42
  for i = 0, n - 1 do acc = (acc * 1103515245 + 12345) % 2147483648 end
  return acc
end
