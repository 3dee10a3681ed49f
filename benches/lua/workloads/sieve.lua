-- The workload's sieve: a 0/1 flag table rebuilt for each prime below 101.
function run(n)
  local flags = {}
  for i = 0, n do flags[i] = (i >= 2) and 1 or 0 end
  for p = 2, 100 do
    if flags[p] == 1 then
      local next = {}
      for i = 0, n do
        next[i] = (flags[i] == 1 and (i < p * p or i % p ~= 0)) and 1 or 0
      end
      flags = next
    end
  end
  local count = 0
  for i = 0, n do if flags[i] == 1 then count = count + 1 end end
  return count
end
