-- The host function, written in Lua (Lua has no co-compiled host crate).
local function mix(acc, i) return (acc * 31 + i) % 1000003 end
function run(n)
  local acc = 0
  for i = 0, n - 1 do acc = mix(acc, i) end
  return acc
end
