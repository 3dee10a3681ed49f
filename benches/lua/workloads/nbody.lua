-- Four bodies, n steps of 0.001, each Float operation in the workload's order.
local DT = 0.001
local M = {[0] = 10.0, 0.1, 0.2, 0.05}
local function d2(s, i, j)
  local dx = s[4 * j] - s[4 * i]
  local dy = s[4 * j + 1] - s[4 * i + 1]
  return dx * dx + dy * dy + 0.01
end
local function acceleration(s, i, c)
  local acc = 0.0
  for j = 0, 3 do
    if i == j then
      acc = acc + 0.0
    else
      acc = acc + M[j] * (s[4 * j + c] - s[4 * i + c]) * (1.0 / (math.sqrt(d2(s, i, j)) * d2(s, i, j)))
    end
  end
  return acc
end
function run(n)
  local s = {[0] = 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 3.0, -2.0, 0.5, 0.2, -2.0, 0.0, 3.0, -1.5, 0.1}
  for _ = 1, n do
    local next = {}
    for i = 0, 3 do
      local vx = s[4 * i + 2] + acceleration(s, i, 0) * DT * 1.0
      local vy = s[4 * i + 3] + acceleration(s, i, 1) * DT * 1.0
      next[4 * i] = s[4 * i] + vx * DT
      next[4 * i + 1] = s[4 * i + 1] + vy * DT
      next[4 * i + 2] = vx
      next[4 * i + 3] = vy
    end
    s = next
  end
  local energy = 0.0
  for i = 0, 3 do
    energy = energy + 0.5 * M[i] * (s[4 * i + 2] * s[4 * i + 2] + s[4 * i + 3] * s[4 * i + 3])
  end
  for _, pair in ipairs({{0, 1}, {0, 2}, {0, 3}, {1, 2}, {1, 3}, {2, 3}}) do
    local i, j = pair[1], pair[2]
    energy = energy + (0.0 - M[i] * M[j] / math.sqrt(d2(s, i, j)))
  end
  return energy + s[0] * 0.001 + s[5] * 0.002
end
