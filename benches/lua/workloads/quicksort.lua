-- The workload's functional quicksort, pass for pass (filters into new tables).
local function filter(xs, keep)
  local out, m = {}, 0
  for i = 1, #xs do
    if keep(xs[i]) then m = m + 1; out[m] = xs[i] end
  end
  return out
end
local function qs(xs, off)
  if #xs == 0 then return 0 end
  local p = xs[1]
  local left = qs(filter(xs, function(x) return x < p end), off)
  local equal = #filter(xs, function(x) return x == p end)
  local less = #filter(xs, function(x) return x < p end)
  local equal2 = #filter(xs, function(x) return x == p end)
  local equal3 = #filter(xs, function(x) return x == p end)
  local weight = equal * (off + less + 1) + math.floor(equal2 * (equal3 - 1) / 2)
  local at_most = #filter(xs, function(x) return x <= p end)
  local right = qs(filter(xs, function(x) return x > p end), off + at_most)
  return left + p * weight + right
end
function run(n)
  local arr = {}
  for i = 0, n - 1 do arr[i + 1] = ((i + 42) * 1103515245 + 12345) % 65536 end
  return qs(arr, 0)
end
