function run(n)
  return n + 1
end
