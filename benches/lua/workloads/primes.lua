local function is_prime(k, d)
  if d * d > k then return true end
  if k % d == 0 then return false end
  return is_prime(k, d + 1)
end
function run(n)
  local acc = 0
  for i = 2, n - 1 do
    if is_prime(i, 2) then acc = acc + 1 end
  end
  return acc
end
