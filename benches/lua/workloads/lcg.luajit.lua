-- LuaJIT numbers are doubles: the chain needs exact 64-bit integers (FFI int64).
function run(n)
  local acc = 42LL
  for i = 0, n - 1 do acc = (acc * 1103515245LL + 12345LL) % 2147483648LL end
  return acc
end
