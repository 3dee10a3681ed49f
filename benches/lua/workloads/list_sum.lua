function run(n)
  local xs = {}
  for i = 0, n - 1 do xs[i + 1] = i * 7 % 1000 end
  local acc = 0
  for i = 1, n do acc = acc + xs[i] end
  return acc
end
