local function find(xs, k, lo, hi)
  if lo > hi then return -1 end
  local mid = math.floor((lo + hi) / 2)
  local at = xs[mid]
  if at == k then return mid end
  if at < k then return find(xs, k, mid + 1, hi) end
  return find(xs, k, lo, mid - 1)
end
function run(n)
  local xs = {}
  for i = 0, n - 1 do xs[i] = 3 * i + i % 2 end
  local acc = 0
  for q = 0, 99 do
    acc = acc + find(xs, (q * 7919 + 1) % (3 * n + 3), 0, n - 1)
  end
  return acc
end
