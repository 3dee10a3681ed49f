function run(n)
  local a, b, c = {}, {}, {}
  for i = 0, n - 1 do
    a[i], b[i] = {}, {}
    for j = 0, n - 1 do
      a[i][j] = (i * j + 1) % 7
      b[i][j] = (i + 2 * j) % 5
    end
  end
  for i = 0, n - 1 do
    c[i] = {}
    for j = 0, n - 1 do
      local acc = 0
      for k = 0, n - 1 do acc = acc + a[i][k] * b[k][j] end
      c[i][j] = acc
    end
  end
  local sum = 0
  for i = 0, n - 1 do
    for j = 0, n - 1 do sum = (sum * 31 + c[i][j]) % 1000000007 end
  end
  return sum
end
