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

-- A finding of the other computer's (`portdoctor listen`): its id carries its side ("destination:service").
function M.is_peers(f) return (f.id or ""):find(":", 1, true) ~= nil end

-- The causes of the first branches below that a connect which CONNECTED can coexist with, and
-- what they mean then: another program answers the port, or one family works and not the other.
-- Any other cause of theirs (a stopped or missing service, nothing listening, a firewall that
-- drops the port) cannot be why a connect to that very port fails when it did not fail.
local while_connected = {
  ["port-in-use"] = "it connects, but to another program, not the destination's service",
  ["listener-ipv4-only"] = "over IPv4 only: over IPv6 nothing answers on the destination",
  ["firewall-blocks-inbound-ipv6"] = "over IPv4 only: the destination's firewall drops IPv6",
}

-- What a finding of those branches means when the connect connected although it says otherwise:
-- something answers on the port, so the finding is about something else than the connect.
local function despite_connect(f)
  if M.is_step(f, "service") then
    return "it connects, so something answers on that port: the destination's service is not down, but its service manager does not show it running (what answers may be the service under another name, another program, or another computer)"
  end
  if M.is_step(f, "listener") then
    return "it connects, so something answers on that port, though the destination sees no usable listener of its own (is it another computer that answers?)"
  end
  return "it connects, yet on the " .. (f.side or "other computer") .. " something is wrong"
end

-- The other computer runs the pack under `portdoctor listen`, which takes no --param: its steps'
-- advice to give one (the service's name, say) means an environment variable there.
local function peer_parameters(f)
  if not M.is_peers(f) then return nil end
  for _, a in ipairs(f.advice or {}) do
    local key, value = tostring(a):match("%-%-param ([%w_]+)=([%w_%.%-]+)")
    if key then
      value = value:gsub("%.+$", "")  -- the sentence's full stop
      return string.format("On the %s, `portdoctor listen` takes no --param: give it in its environment instead, "
        .. "PORTDOCTOR_PARAM_%s=%s portdoctor listen --pair (or in its config file), then pair again",
        f.side or "other computer", key:upper(), value)
    end
  end
end

-- The destination's own evidence first (a stopped service, no listener, its inbound firewall),
-- then the source's (its outbound firewall), then what the connect between them says.
function M.decide(findings, connect)
  local v = M.reason(findings, connect)
  -- The other computer's service step said the service is not installed (or not under the names
  -- looked for): how to give that computer its name.
  local peer_service = first(findings, function(f)
    return M.is_peers(f) and M.is_step(f, "service") and (f.status == "fail" or f.status == "warn")
  end)
  local hint = peer_service and peer_parameters(peer_service)
  if hint then
    local advice = {}
    for _, a in ipairs(v.advice or {}) do advice[#advice + 1] = a end
    advice[#advice + 1] = hint
    v.advice = advice
  end
  return v
end

function M.reason(findings, connect)
  local outcome = connect.status
  local connected = outcome == "connected"
  local how = M.how(connect)
  local function verdict(f, why)
    return { fix = f.side, computer = f.computer, cause = f.cause, summary = how .. ": " .. why .. " — " .. f.summary,
             advice = f.advice, check = f.id }
  end
  local function computer_of(side)
    local f = first(findings, function(f) return f.side == side end)
    return f and f.computer
  end
  -- A connect that connected: only the causes that coexist with it lead here (see while_connected).
  local function explains(f, why)
    if not connected then return verdict(f, why) end
    if while_connected[f.cause] then return verdict(f, while_connected[f.cause]) end
  end
  -- A refused connect: the destination's service is down, or nothing listens there.
  local v
  local f = M.failing(findings, "destination", { "service" })
  v = f and explains(f, "the destination's service is down")
  if v then return v end
  f = M.failing(findings, "destination", { "listener", "engine-port" })
  v = f and explains(f, "nothing listens there on the destination")
  if v then return v end
  f = M.failing(findings, "destination", { "firewall" })
  v = f and explains(f, "the destination's firewall drops it")
  if v then return v end
  f = M.failing(findings, "source", { "firewall" })
  v = f and explains(f, "the source's firewall blocks it on the way out")
  if v then return v end
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
    -- The first branches' findings, said for what they are now (the connect worked), first.
    f = M.failing(findings, "destination", { "service", "listener", "engine-port", "firewall" })
      or M.failing(findings, "source", { "firewall" })
    if f and not M.is_step(f, "engine-port") then return verdict(f, despite_connect(f)) end
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
