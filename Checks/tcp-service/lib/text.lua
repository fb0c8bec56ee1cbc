-- Words shared by the tcp-service steps: how an address with its port and a length of time are
-- written for a person (require("tcp-service:text")).
local M = {}

-- "host:port", or "[v6]:port" so that the port cannot be read as part of the address.
function M.hostport(host, port)
  if host:find(":") then return "[" .. host .. "]:" .. port end
  return host .. ":" .. port
end

-- "7 days", "1 day 2 hours", "45 minutes": how long a router keeps a forward or a pinhole.
function M.duration(seconds)
  local parts = {}
  for _, unit in ipairs { { 86400, "day" }, { 3600, "hour" }, { 60, "minute" } } do
    local n = seconds // unit[1]
    if n > 0 and #parts < 2 then
      parts[#parts + 1] = n .. " " .. unit[2] .. (n == 1 and "" or "s")
      seconds = seconds - n * unit[1]
    end
  end
  if #parts == 0 then return seconds .. " seconds" end
  return table.concat(parts, " ")
end

-- "45 s", "12 min", "3 h", "4 days": a service's uptime, short enough for one line.
function M.uptime(seconds)
  if seconds < 120 then return seconds .. " s" end
  if seconds < 7200 then return (seconds // 60) .. " min" end
  if seconds < 172800 then return (seconds // 3600) .. " h" end
  return (seconds // 86400) .. " days"
end

return M
