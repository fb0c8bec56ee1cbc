-- The paired diagnosis's verdict (`run --with`): which computer to fix, and why, from the merged
-- findings of both computers and the source's connect to the destination. portdoctor calls
-- decide(findings, connect) once both sides are in; its answer is the report's `pairing` object
-- (Docs/report-format.md). A pack with its own lib/verdict.lua (or an overlay with one) is asked
-- instead of this one (Docs/pairing-protocol.md, "The verdict"); it may build on this one:
--
--   local base = require("tcp-service:verdict")
--   local M = {}
--   function M.decide(findings, connect)
--     local v = base.decide(findings, connect)
--     ...                                  -- change v, or return a verdict of its own
--     return v
--   end
--   return M
--
-- findings: every check of both computers, in the report's shape, as plain tables:
--   { id =, title =, status =, summary =, cause =, advice = { … }, evidence =, side = "source" |
--     "destination", computer = "nas (192.0.2.10)", … } — the other computer's ids carry its side
--   ("destination:firewall"); a field the report has as null is nil.
-- connect: { from = "the source", to = "192.0.2.10:4242", status = "timeout" } (status nil: not tried).
-- The verdict: { fix = "source" | "destination" | "between" | nil, computer =, cause =, summary =,
--   advice = { … }, check = } (check: the id of the finding it rests on).
local M = {}

-- A finding is the step `step` on whichever computer: "firewall" or "destination:firewall".
function M.is_step(f, step)
  local id = f.id or ""
  return id == step or id:sub(-(#step + 1)) == ":" .. step
end

-- The first failing finding on `side`, trying the steps in order.
function M.failing(findings, side, steps)
  for _, step in ipairs(steps) do
    for _, f in ipairs(findings) do
      if f.side == side and f.status == "fail" and M.is_step(f, step) then return f end
    end
  end
end

local function first(findings, when)
  for _, f in ipairs(findings) do
    if when(f) then return f end
  end
end

-- How the connect between the two went, in words.
function M.how(connect)
  local from, to, s = connect.from, connect.to, connect.status
  if s == "connected" then return from .. " connects to " .. to end
  if s == "refused" then return from .. " → " .. to .. " is refused" end
  if s == "timeout" then return from .. " → " .. to .. " gets no answer" end
  if s ~= nil then return from .. " → " .. to .. ": " .. s end
  return from .. " → " .. to .. " was not tried"
end

-- The connect went to one of the destination's own interface addresses (the `paths` step's test
-- to that address is `via: lan`): no router translated it, so there is nothing to forward.
function M.reached_directly(findings, connect)
  local ip = (connect.to or ""):match("^(.*):[^:]*$")
  if not ip then return false end
  ip = ip:gsub("[%[%]]", "")
  for _, f in ipairs(findings) do
    local tests = M.is_step(f, "paths") and type(f.evidence) == "table" and f.evidence.tests
    if type(tests) == "table" then
      for _, t in ipairs(tests) do
        if type(t) == "table" and t.address == ip and t.via == "lan" and t.to == "destination" then return true end
      end
    end
  end
  return false
end

-- The destination's own evidence first (a stopped service, no listener, its inbound firewall),
-- then the source's (its outbound firewall), then what the connect between them says.
function M.decide(findings, connect)
  local outcome = connect.status
  local how = M.how(connect)
  local function verdict(f, why)
    return { fix = f.side, computer = f.computer, cause = f.cause, summary = how .. ": " .. why .. " — " .. f.summary,
             advice = f.advice, check = f.id }
  end
  local function computer_of(side)
    local f = first(findings, function(f) return f.side == side end)
    return f and f.computer
  end
  -- A refused connect: the destination's service is down, or nothing listens there.
  local f = M.failing(findings, "destination", { "service" })
  if f then return verdict(f, "the destination's service is down") end
  f = M.failing(findings, "destination", { "listener", "engine-port" })
  if f then return verdict(f, "nothing listens there on the destination") end
  f = M.failing(findings, "destination", { "firewall" })
  if f then return verdict(f, "the destination's firewall drops it") end
  f = M.failing(findings, "source", { "firewall" })
  if f then return verdict(f, "the source's firewall blocks it on the way out") end
  -- One family or one path fails while another works: the pack's `paths` step named it.
  f = first(findings, function(f) return f.id == "paths" and f.status == "fail" and f.side ~= nil end)
  if f then
    -- Or none at all: the source's connect traced hop by hop stops at its own router.
    if type(f.evidence) == "table" and f.evidence.stopped_at == "source-router" then
      return verdict(f, "the connect never gets past the source's own router")
    end
    return verdict(f, "not over every address")
  end
  if outcome == "connected" then
    -- The path works; anything else failing is that computer's own problem. Not the survey of
    -- the destination's router: the source's connect to the service is the test of the way in
    -- (the survey may lack evidence, e.g. no reflector on the source to connect back).
    f = first(findings, function(f) return f.status == "fail" and f.side ~= nil and not M.is_step(f, "port-forward") end)
    if f then return verdict(f, "a problem on the " .. f.side) end
    return { summary = how .. ": both computers look healthy", advice = {} }
  end
  -- Both computers are clean, yet the connect fails: what lies between them, in front of the destination.
  local dest = computer_of("destination")
  local port = first(findings, function(f)
    return f.side == "destination" and f.status == "fail" and M.is_step(f, "port-forward")
  end)
  local at = port and type(port.evidence) == "table" and port.evidence.filtered_at or nil
  local failed = outcome == "timeout" or outcome == "refused"
  -- The destination's survey of the way in found it stopped on the source's side (the source's
  -- own router drops it on the way out: the NAT rules' `at = "other-end"`).
  if port and failed and at == "other-end" then
    return { fix = "source", computer = computer_of("source"), cause = port.cause,
             summary = how .. ": both computers' service, listener and firewall are fine — the connect never gets past the source's own router — " .. port.summary,
             advice = port.advice, check = port.id }
  end
  -- Nothing to forward: the source connected to an address on the destination's own interface
  -- (no NAT between them), and both computers let it through: what lies between them stops it.
  -- Seen from the destination, its survey may have placed it there too (the NAT rules' `at =
  -- "between"`: the one router between the two, with no NAT in front of the destination).
  if failed and (port == nil or at == "between") and M.reached_directly(findings, connect) then
    local p = (connect.to or ""):match(":([^:]*)$") or "the port"
    return { fix = "between", cause = "filtered-upstream",
             summary = how .. ": both computers' service, listener and firewall are fine, and " .. connect.to
               .. " is the destination's own address (no port forward is involved) — something between the two computers drops it",
             advice = { "Look at what lies between the two computers for TCP " .. p
               .. ": a router's or a VPN's filter, a network firewall or access list, a guest or isolated Wi-Fi network (ask whoever runs that network)." },
             check = port and port.id }
  end
  -- "Host unreachable" back from the way in: the router in front of the destination looked for the
  -- computer its forward points to and found none (its ARP went unanswered) — or a router on the way
  -- said so. Only the destination's own survey of its router tells which, so only with its finding.
  local unreachable = outcome == "host-unreachable" or outcome == "net-unreachable"
  if failed or (unreachable and port ~= nil) then
    return { fix = "destination", computer = dest, cause = port and port.cause or "port-forward-missing",
             summary = how .. ": the destination's service, listener and firewall are fine — the router in front of it does not forward the port",
             advice = port and port.advice or {
               "Forward the port on the router in front of the destination to the destination's address (or, on one network, check what lies between the two computers)." },
             check = port and port.id }
  end
  f = first(findings, function(f) return f.status == "fail" and f.side ~= nil end)
  if f then return verdict(f, "a problem on the " .. f.side) end
  return { summary = how, advice = {} }
end

return M
