-- Where a connection from outside to the port stops, decided from what portforward.survey saw.
-- The knowledge is a list of small ordered rules: the first whose `when` holds gives the verdict.
-- A router vendor's overlay or a user adds a rule or replaces one (Docs/nat-rules.md):
--
--   local nat = require("tcp-service:nat")
--   local rules = nat.ruleset()              -- a copy of the bundled rules, yours to change
--   rules:add({ id = "my-case", when = function(e, f) ... end, verdict = function(e, f) ... end },
--             { before = "forward-missing" })
--   rules:replace("upnp-unavailable", { when = ..., verdict = ... })
--   return check(require("tcp-service:steps").port_forward { needs = { ... }, rules = rules })
--
-- A rule: { id = "…", when = function(e, f) -> boolean, verdict = function(e, f) -> verdict }.
-- e is the survey's evidence (see Docs/lua-api.md, portforward.survey); f the facts derived from it
-- (nat.facts: seen, local_public, layered, router_silent, …). A verdict:
--   { kind = "forward-missing", status = "fail", cause = "port-forward-missing",
--     explanation = "…", advice = { "…" }, notes = { "…" }, repair = "add-forward" }
-- status is "pass", "warn", "fail" or "skip"; when left out it is "fail" with a cause, else "pass".
local M = {}

local function octets(ip)
  local a, b, c, d = (ip or ""):match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
  if not a then return nil end
  return tonumber(a), tonumber(b), tonumber(c), tonumber(d)
end

-- The address part of "198.51.100.7:4250" (or of a bare address).
function M.ip(address)
  if not address then return nil end
  return address:match("^%[(.-)%]:%d+$") or address:match("^([^:]+):%d+$") or address
end

function M.is_cgnat(ip)
  local a, b = octets(ip)
  return a == 100 and b >= 64 and b <= 127
end

function M.is_private(ip)
  local a, b = octets(ip)
  return a == 10 or (a == 172 and b >= 16 and b <= 31) or (a == 192 and b == 168)
end

-- The connect-back's trace ({ { ttl =, status =, from = }, … }: the same connect with growing TTLs):
-- the routers that passed it on past the one holding the public address, before something refused
-- it. Such a router answers an expired TTL from the public address (the NAT in front rewrites the
-- answer's source): counted back from the first refusal. Answers from private addresses do not
-- count: a provider's own routers often have such addresses, in front of the public one.
function M.refused_inside(trace, seen)
  if type(trace) ~= "table" or #trace == 0 then return nil end
  local by, first = {}, nil
  for _, h in ipairs(trace) do
    if h.ttl then by[h.ttl] = h end
    if (h.status == "refused" or h.status == "reset") and h.ttl and (first == nil or h.ttl < first) then first = h.ttl end
  end
  if not first then return nil end
  local inside = 0
  for ttl = first - 1, 1, -1 do
    local h = by[ttl]
    if not (h and h.status == "time-exceeded" and h.from ~= nil and h.from == seen) then
      break
    end
    inside = inside + 1
  end
  return inside
end

-- Refused by a router itself, before anything was forwarded: the connect-back's trace got the
-- refusal before its TTL reached past the routers holding the public address (a router that
-- forwards the port answers "time exceeded" for a TTL that ends there, and refuses nothing itself).
function M.refused_by_a_router(f)
  return (f.outside == "refused" or f.outside == "reset") and f.refused_inside ~= nil
    and f.refused_inside < math.max(f.nat_routers or 1, 1)
end

-- An unanswered connect-back's trace that stops right past the reflector's own first router: TTL 1
-- answered from a private (or carrier-grade NAT) address, no answer at all from any later TTL. Such
-- an address is not routed between networks, so that router is on the reflector's side: it (or the
-- network right behind it) drops the port on the way out, before anything in front of this computer.
function M.stopped_past_their_router(trace)
  if type(trace) ~= "table" or #trace < 2 then return false end
  local first
  for _, h in ipairs(trace) do
    if h.ttl == 1 then
      first = h
    elseif h.status ~= "timeout" then
      return false
    end
  end
  return first ~= nil and first.status == "time-exceeded" and first.from ~= nil
    and (M.is_private(first.from) or M.is_cgnat(first.from))
end

-- The hop probes toward the reflector ({ { ttl, address, kind }, … }): TTL 1 expired at a router,
-- and TTL 2 reached the reflector's address itself (it answered "unreachable" for the probe's port).
function M.one_router_between(probes, reflector)
  if type(probes) ~= "table" or reflector == nil then return false end
  local by = {}
  for _, h in ipairs(probes) do if h.ttl then by[h.ttl] = h end end
  local first, second = by[1], by[2]
  return first ~= nil and first.kind == "time-exceeded" and first.address ~= nil and first.address ~= reflector
    and second ~= nil and second.kind == "unreachable" and second.address == reflector
end

local function contains(list, x)
  for _, v in ipairs(list or {}) do if v == x then return true end end
  return false
end

-- What the evidence means, before any rule: shared by the rules so that each stays small.
--   seen          this computer's address as the outside saw it (nil: no reflector answer)
--   local_public  the outside sees one of this computer's own addresses: no NAT
--   layered       { cause = "cgnat" | "double-nat", why = "…" } when a second NAT is in the way
--   router_silent the router answered neither UPnP nor NAT-PMP
--   mapped_here / mapped_elsewhere  the router's forward table points here / at another address
--   outside       the connect-back's status ("connected", "refused", "timeout", …) or nil
--   blocked_here  the steps on this computer that failed (e.steps: service, listener, firewall), as a list:
--                 the connect-back cannot speak for the router then; a step that could not look
--                 ("no-permission": the firewall's rules, without administrator rights) counts too
--   watched       what reached this network during the connect-back was watched (e.arrivals, needs root)
--   arrived_here / arrived_elsewhere  its SYNs reached this computer on the port / only on other ports
--   looked_for    addresses the gateway asked for on the LAN (ARP) while the outside connected (a list)
--   nat_routers   routers with private addresses between here and the outside (from the hop probes)
--   refused_inside  from the connect-back's trace: how many routers past the one holding the public
--                 address passed the connection on before something refused it (0: that router itself)
--   stopped_at_their_router  the connect-back went unanswered and its trace stopped right past the
--                 reflector's own first router (see stopped_past_their_router)
--   one_router_between  the hop probes toward the reflector met one router, then the reflector's own
--                 address answered: exactly one router lies between this computer and the reflector
function M.facts(e)
  local f = {}
  for _, id in ipairs { "service", "listener", "firewall" } do
    if e.steps and (e.steps[id] == "fail" or e.steps[id] == "no-permission") then
      f.blocked_here = f.blocked_here or {}
      f.blocked_here[#f.blocked_here + 1] = id
    end
  end
  f.seen = M.ip(e.public_address)
  f.local_public = f.seen ~= nil and contains(e.local_addresses, f.seen)
  local a = e.arrivals
  if type(a) == "table" and a.error == nil then
    f.watched = true
    local ports = a.syn_ports or {}
    f.arrived_here = e.port ~= nil and contains(ports, e.port)
    f.arrived_elsewhere = #ports > 0 and not f.arrived_here
    f.arrived_anything = #ports > 0
    f.looked_for = a.gateway_asked or {}
  end
  f.nat_routers = 0
  for _, h in ipairs(e.hop_probes or {}) do
    if h.kind == "time-exceeded" and h.address and (M.is_private(h.address) or M.is_cgnat(h.address)) then
      f.nat_routers = f.nat_routers + 1
    else
      break
    end
  end
  f.refused_inside = M.refused_inside(e.connect_back_trace, f.seen)
  f.stopped_at_their_router = e.connect_back == "timeout" and M.stopped_past_their_router(e.connect_back_trace)
  f.one_router_between = M.one_router_between(e.hop_probes, M.ip(e.reflector_address))
  f.outside = e.connect_back
  f.router_silent = e.upnp == false and e.natpmp == false
  if e.mapping_client then
    f.mapped_here = contains(e.local_addresses, e.mapping_client)
    f.mapped_elsewhere = not f.mapped_here
  end
  local hops = e.hops or {}
  local wan = e.router_wan
  if wan and M.is_cgnat(wan) then
    f.layered = { cause = "cgnat", why = "the router's WAN address " .. wan
      .. " is in 100.64.0.0/10: the provider shares one public address among its customers" }
  else
    for i = 2, #hops do
      if M.is_cgnat(hops[i]) then
        f.layered = { cause = "cgnat", why = "a router past yours (" .. hops[i] .. ") is in 100.64.0.0/10: carrier-grade NAT at the provider" }
        break
      end
    end
  end
  if not f.layered then
    if wan and M.is_private(wan) then
      f.layered = { cause = "double-nat", why = "the router's WAN address " .. wan .. " is private: another router sits in front of it" }
    elseif wan and f.seen and wan ~= f.seen then
      f.layered = { cause = "double-nat", why = "the router says its address is " .. wan .. " but the outside sees " .. f.seen .. ": another NAT is upstream" }
    elseif not wan then
      for i = 2, #hops do
        if M.is_private(hops[i]) then
          f.layered = { cause = "double-nat", why = "the next router past yours (" .. hops[i] .. ") has a private address: double NAT" }
          break
        end
      end
    end
  end
  return f
end

local function here(e) return table.concat(e.local_addresses or {}, ", ") end

-- What the connect-back ran into, in words: "refused (connection refused, from 198.51.100.7:4242)".
local function outcome(e)
  local words = e.connect_back or "?"
  local extra = {}
  if e.connect_back_error then extra[#extra + 1] = e.connect_back_error end
  if e.connect_back_to then extra[#extra + 1] = (e.connect_back == "refused" and "from " or "to ") .. e.connect_back_to end
  if #extra > 0 then words = words .. " (" .. table.concat(extra, ", ") .. ")" end
  return words
end
M.outcome = outcome

local NO_FIX = "portdoctor --fix cannot add forwards on this router (it answers neither UPnP nor NAT-PMP): keep the one set in its admin page"

local function by_hand(e)
  local gw = e.default_gateway and (" (http://" .. e.default_gateway .. ")") or ""
  return "Set up the forward in the router's admin page" .. gw .. ": TCP port, to this computer (" .. here(e) .. "), same port; give this computer a fixed address there too."
end


-- Ports the connect-back arrived at, in words.
local function ports(e)
  local t = {}
  for _, p in ipairs((e.arrivals and e.arrivals.syn_ports) or {}) do t[#t + 1] = tostring(p) end
  return table.concat(t, ", ")
end

-- Double NAT or CGNAT as context of another verdict.
local function layered_note(f)
  if not f.layered then return nil end
  return { f.layered.why .. ": forwards are needed on both routers (or put the outer one in bridge mode)" }
end

-- No forward on the router that refused: the bundled "forward-missing" verdict.
local function forward_missing(e, f)
  local v = { kind = "forward-missing", cause = "port-forward-missing",
              explanation = "the router does not forward the port to this computer: from outside, the connection was refused (" .. outcome(e) .. ")" }
  if e.upnp then
    v.repair = "add-forward"
  elseif f.router_silent then
    v.explanation = v.explanation .. "; the router answers neither UPnP nor NAT-PMP, so portdoctor cannot add the forward"
    v.advice = { by_hand(e) }
  end
  return v
end

-- Past every router, refused, while this computer listens and lets it in: the forward points at
-- another port (or another computer) that refuses.
local function forward_elsewhere_refused(e, f)
  return { kind = "forward-wrong-target", cause = "port-forward-wrong-target",
           explanation = "the connection from outside got past the router" .. (f.layered and "s" or "")
             .. " and was refused on this network (" .. outcome(e) .. "), while this computer listens on the port and lets it in: the forward points at another port, or another computer",
           advice = { "In the router's admin page, point the forward for port " .. tostring(e.port or "") .. " at the same port of this computer (" .. here(e) .. ")." },
           notes = layered_note(f), repair = e.upnp and "add-forward" or nil }
end

-- The bundled rules, in order. Failing conclusions about the router come after the passing ones
-- that rest on a successful connect from outside: that test is the ground truth.
M.default_rules = {
  {
    id = "no-nat",
    when = function(e, f) return f.local_public and (f.outside == nil or f.outside == "connected") end,
    verdict = function(e, f)
      return { kind = "no-nat", explanation = "this computer's own address " .. f.seen .. " is what the outside sees: there is no NAT in the way" }
    end,
  },
  {
    -- The same silence past the reflector's first router, but that router is the only one between
    -- the two computers (the hop probes from here met one router, then the reflector), and the
    -- outside sees this computer's own address (no NAT here): the connect-back's next hop was this
    -- computer, so that router is in front of this one as much as behind the other. A private
    -- address routed between two networks is a plain router (a company's, a lab's): it is what
    -- lies between them, not the other computer's own router. `at = "between"`: a paired diagnosis
    -- names neither computer. (A NAT on the reflector's side exactly one router away would look the
    -- same from here; on the internet the path is longer, so the rule keeps to local networks.)
    id = "filtered-between",
    when = function(e, f)
      return not f.blocked_here and f.stopped_at_their_router and f.local_public and f.one_router_between
    end,
    verdict = function(e, f)
      local first = e.connect_back_trace and e.connect_back_trace[1] and e.connect_back_trace[1].from
      return { kind = "filtered-between", cause = "filtered-upstream", at = "between",
               explanation = "the other computer's connect to this one (" .. outcome(e) .. ") got as far as the one router between the two ("
                 .. tostring(first) .. ") and no further, and no NAT is in the way (the outside sees this computer's own address "
                 .. tostring(f.seen) .. "): that router, or a filter next to it, drops the port",
               advice = { "On the router between the two computers (" .. tostring(first) .. "), allow TCP " .. tostring(e.port or "")
                 .. " between them (its firewall or access list), or ask whoever runs that network." } }
    end,
  },
  {
    -- Nothing here stops it, and the connect-back never got past the reflector's own first router:
    -- the other computer's side drops it on the way out, not anything in front of this one.
    -- `at = "other-end"`: a paired diagnosis names the other computer to fix.
    id = "filtered-at-other-end",
    when = function(e, f) return not f.blocked_here and f.stopped_at_their_router end,
    verdict = function(e, f)
      local first = e.connect_back_trace and e.connect_back_trace[1] and e.connect_back_trace[1].from
      return { kind = "filtered-at-other-end", cause = "filtered-upstream", at = "other-end",
               explanation = "the other computer's connect to this one (" .. outcome(e) .. ") never got past its own router ("
                 .. tostring(first) .. "): that router, or the network right behind it, drops the port on the way out",
               advice = { "On the other computer's router, allow outgoing TCP " .. tostring(e.port or "") .. " (its firewall or parental-control page), or ask that network's administrator." } }
    end,
  },
  {
    id = "no-nat-filtered",
    when = function(e, f) return f.local_public and not f.blocked_here end,
    verdict = function(e, f)
      return { kind = "filtered-upstream", cause = "filtered-upstream",
               explanation = "there is no NAT, yet the outside cannot connect (" .. outcome(e) .. "): something upstream filters the port" }
    end,
  },
  {
    id = "no-default-route",
    when = function(e) return e.default_route == false end,
    verdict = function()
      return { kind = "no-default-route", cause = "no-default-route",
               explanation = "this computer has no default route: it cannot answer anything beyond its own network, and there is no router to ask about forwarding. Check its network settings (DHCP, or the gateway address)" }
    end,
  },
  {
    -- Forwards on both routers (or the provider forwards too): the outside got in, so it works.
    id = "layered-nat-forwarded",
    when = function(e, f) return f.layered ~= nil and f.outside == "connected" and not f.mapped_elsewhere end,
    verdict = function(e, f)
      local what = f.layered.cause == "cgnat" and "carrier-grade NAT" or "double NAT"
      return { kind = "forward-ok", status = "pass",
               explanation = "the port is reachable from outside through " .. what,
               notes = { f.layered.why .. "; the forwards on the way work now. If one of those routers is replaced or reset, forward on it again (or put the outer one in bridge mode)" } }
    end,
  },
  {
    id = "cgnat",
    when = function(e, f) return f.layered ~= nil and f.layered.cause == "cgnat" end,
    verdict = function(e, f)
      return { kind = "cgnat", cause = "cgnat",
               explanation = f.layered.why .. ", and forwarding on the home router cannot help",
               advice = { "Ask the provider for a public IPv4 address (or a port forward on their side), or connect the other way round: the computer behind CGNAT as the source." } }
    end,
  },
  -- What reached this network while the outside connected (watched with root): evidence about the
  -- router that no step here can spoil, so it comes before the rules that hedge for those steps.
  {
    -- The connection from outside reached this computer, but on another port: the forward's target
    -- port is wrong (a forward to the right port arrives on the port itself).
    id = "forward-to-another-port",
    when = function(e, f) return f.outside ~= "connected" and f.arrived_elsewhere end,
    verdict = function(e, f)
      return { kind = "forward-wrong-target", cause = "port-forward-wrong-target",
               explanation = "the connection from outside reached this computer on port " .. ports(e)
                 .. ", not on " .. tostring(e.port) .. " (" .. outcome(e) .. "): the router's forward points at the wrong port",
               advice = { "In the router's admin page, point the forward for port " .. tostring(e.port) .. " at port " .. tostring(e.port) .. " of this computer (" .. here(e) .. ")." },
               notes = layered_note(f), repair = e.upnp and "add-forward" or nil }
    end,
  },
  {
    -- Nothing reached this computer, and meanwhile the gateway asked the LAN for another address:
    -- it forwards the port there — an address no computer has now (it asks in vain), or another one.
    id = "forward-to-absent-address",
    when = function(e, f)
      -- Not when a router refused it itself (it forwarded nothing): the gateway's question is then
      -- about something else (its earlier lookups for that address go on for a few seconds).
      return f.outside ~= "connected" and f.watched and not f.arrived_anything and #f.looked_for > 0
        and not M.refused_by_a_router(f)
    end,
    verdict = function(e, f)
      local them = table.concat(f.looked_for, ", ")
      return { kind = "forward-wrong-target", cause = "port-forward-wrong-target",
               explanation = "the connection from outside never reached this computer (" .. outcome(e)
                 .. "); meanwhile the router asked the network for " .. them .. ": it forwards the port to "
                 .. them .. ", not to this computer (" .. here(e) .. ") — an old address after a DHCP change?",
               advice = { "In the router's admin page, point the forward for the port at this computer (" .. here(e) .. ") and give it a fixed address." },
               notes = layered_note(f), repair = e.upnp and "add-forward" or nil }
    end,
  },
  {
    -- It reached this computer on the port: the routers forward it here, and what stops it is here
    -- (a failed step says what; without the steps, as in `probe nat`, the listener or the firewall).
    id = "forward-reaches-here",
    when = function(e, f) return f.outside ~= "connected" and f.arrived_here end,
    verdict = function(e, f)
      local what = f.blocked_here and ("the " .. table.concat(f.blocked_here, " and ") .. " step here stops it")
        or "this computer does not take it (nothing listens on the port, or its firewall refuses or drops it)"
      return { kind = "forward-ok", status = "pass",
               explanation = "the router forwards the port to this computer: the connection from outside arrived here ("
                 .. outcome(e) .. "), and " .. what,
               notes = layered_note(f) }
    end,
  },
  {
    -- Refused, and it never reached this network: a router refused it, one without a forward.
    -- Behind two NATs the connect-back's trace says which router (see refused-behind-nat).
    id = "refused-before-here",
    when = function(e, f)
      return (f.outside == "refused" or f.outside == "reset") and f.watched and not f.arrived_anything
        and (#f.looked_for == 0 or M.refused_by_a_router(f)) and f.layered == nil
    end,
    verdict = function(e, f)
      local v = forward_missing(e, f)
      v.explanation = v.explanation .. ", and nothing of it reached this computer: the router refused it itself"
      return v
    end,
  },
  {
    -- Behind two NATs, refused: the trace tells which router refused. The one holding the public
    -- address itself: it forwards nothing (the double NAT is the cause). One further in: that router
    -- has no forward. Past all of them: the forward goes to a port or computer that refuses.
    id = "refused-behind-nat",
    when = function(e, f)
      return (f.outside == "refused" or f.outside == "reset") and f.layered ~= nil and f.layered.cause == "double-nat"
        and f.refused_inside ~= nil and f.refused_inside > 0
    end,
    verdict = function(e, f)
      if f.refused_inside >= math.max(f.nat_routers, 1) then
        if f.blocked_here or not e.steps then
          return { kind = "unknown", status = "skip",
                   explanation = "the connection from outside got through both routers and was refused on this network ("
                     .. outcome(e) .. "): " .. (f.blocked_here and ("the " .. table.concat(f.blocked_here, " and ") .. " step here says why")
                       or "by this computer (nothing listening, or its firewall) or by the computer the forward points at"),
                   notes = layered_note(f) }
        end
        return forward_elsewhere_refused(e, f)
      end
      local v = forward_missing(e, f)
      v.explanation = "the router holding the public address " .. (f.seen or "?") .. " forwards the port, but the router behind it ("
        .. f.refused_inside .. " hop" .. (f.refused_inside == 1 and "" or "s") .. " further in) refused the connection (" .. outcome(e)
        .. "): that router, yours, has no forward for the port to this computer"
      v.advice = { by_hand(e) }
      v.notes = layered_note(f)
      return v
    end,
  },
  {
    -- One NAT, refused past the router: the forward sends the port to a port or computer here that refuses.
    id = "refused-past-router",
    when = function(e, f)
      -- The steps here must be known to pass (not so in `probe nat`): else this computer may be the one refusing.
      return (f.outside == "refused" or f.outside == "reset") and f.layered == nil and e.steps ~= nil
        and not f.blocked_here and not f.local_public and f.refused_inside ~= nil
        and f.refused_inside >= math.max(f.nat_routers, 1)
    end,
    verdict = function(e, f) return forward_elsewhere_refused(e, f) end,
  },
  {
    -- Silence, and nothing reached this network (nor did the router look for another computer):
    -- a router on the way drops it.
    id = "dropped-before-here",
    when = function(e, f)
      return (f.outside == "timeout" or f.outside == "host-unreachable" or f.outside == "net-unreachable")
        and f.watched and not f.arrived_anything and #f.looked_for == 0 and not f.mapped_elsewhere
        and not f.local_public
    end,
    verdict = function(e, f)
      return { kind = "filtered-upstream", cause = "filtered-upstream",
               explanation = "from outside the connection got no answer (" .. outcome(e) .. ") and never reached this network, nor did the router look for another computer: a router on the way drops it — yours (its firewall, or a stealth mode that drops ports it does not forward)"
                 .. (f.layered and " or the one in front of it" or " or one past it"),
               advice = { "In the router's admin page, check that the forward for the port exists and that its firewall lets it through"
                            .. (f.layered and "; do the same on the router in front of it" or "") .. "." },
               notes = layered_note(f) }
    end,
  },
  {
    -- Without administrator rights the firewall here could not be read: a failed test from outside
    -- may be its doing as much as the second NAT's, which is then likely, not proven.
    id = "double-nat-firewall-unread",
    when = function(e, f)
      return f.layered ~= nil and f.layered.cause == "double-nat" and e.steps ~= nil and e.steps.firewall == "no-permission"
    end,
    verdict = function(e, f)
      return { kind = "double-nat", status = "warn", cause = "double-nat",
               explanation = f.layered.why .. " (put that one in bridge mode, or forward on both) — though the test from outside ("
                 .. outcome(e) .. ") may have been stopped by this computer's own firewall, which could not be read" }
    end,
  },
  {
    id = "double-nat",
    when = function(e, f) return f.layered ~= nil end,
    verdict = function(e, f)
      return { kind = "double-nat", cause = "double-nat",
               explanation = f.layered.why .. " (put that one in bridge mode, or forward on both)" }
    end,
  },
  {
    -- Everything below rests on the outside test: a forward made in the router's admin page is
    -- invisible to UPnP.
    id = "peer-unresolvable",
    when = function(e) return e.reflector_unresolved ~= nil end,
    verdict = function(e)
      return { kind = "peer-unresolvable", cause = "peer-unresolvable",
               explanation = "the reflector's name " .. (e.reflector or "?") .. " does not resolve (" .. e.reflector_unresolved .. "): the test from outside could not be made" }
    end,
  },
  {
    id = "mapping-elsewhere",
    when = function(e, f) return f.mapped_elsewhere end,
    verdict = function(e, f)
      return { kind = "forward-wrong-target", cause = "port-forward-wrong-target",
               explanation = "the router forwards the port to " .. e.mapping_client .. ", which is not this computer (" .. here(e) .. ") — an old address after a DHCP change?",
               repair = e.upnp and "add-forward" or nil }
    end,
  },
  {
    id = "forward-ok",
    when = function(e, f) return f.outside == "connected" end,
    verdict = function(e, f)
      local v = { kind = "forward-ok", explanation = "the port is forwarded to this computer and reachable from outside" }
      if f.router_silent then v.notes = { NO_FIX } end
      return v
    end,
  },
  {
    -- Nothing listens here, or the firewall here blocks: a refused or unanswered connect-back is
    -- this computer's doing as much as the router's. Only the router's own table can still speak.
    id = "blocked-here",
    when = function(e, f) return f.outside ~= nil and f.blocked_here ~= nil end,
    verdict = function(e, f)
      local which = table.concat(f.blocked_here, " and ")
      local why = "the test from outside (" .. outcome(e) .. ") cannot tell about the router while the " .. which
        .. " step here fails (or could not look, without administrator rights)"
      if e.upnp and e.mapping_client == nil and not f.local_public then
        -- A warning, not a failure: a forward made in the router's admin page does not show in its
        -- UPnP table, and nothing else can tell until the step here is fixed.
        return { kind = "forward-missing", status = "warn", cause = "port-forward-missing", repair = "add-forward",
                 explanation = "the router's UPnP table has no forward for the port to this computer: unless you set one up in its admin page, the forward is missing too (" .. why .. ")" }
      end
      return { kind = "unknown", status = "skip", explanation = why .. ": fix that first, then run portdoctor again",
               advice = { "See the " .. which .. " step." } }
    end,
  },
  {
    id = "forwarded-but-filtered",
    when = function(e, f) return f.mapped_here and f.outside ~= nil end,
    verdict = function(e, f)
      return { kind = "filtered-upstream", cause = "filtered-upstream",
               explanation = "the router forwards the port here, yet the outside cannot connect (" .. outcome(e) .. "): something upstream filters it" }
    end,
  },
  {
    -- The router itself answered the connect-back with a reset: it has no forward for the port.
    id = "forward-missing",
    when = function(e, f) return f.outside == "refused" or f.outside == "reset" end,
    verdict = function(e, f) return forward_missing(e, f) end,
  },
  {
    -- Silence from outside with no forward here in the router's table: a forward set up by hand to
    -- an address no computer has now drops into the void. Something upstream dropping the port
    -- looks the same from here, hence the hedge.
    id = "forward-into-the-void",
    when = function(e, f)
      return f.outside == "timeout" or f.outside == "host-unreachable" or f.outside == "net-unreachable"
    end,
    verdict = function(e, f)
      return { kind = "forward-wrong-target", cause = "port-forward-wrong-target",
               explanation = "from outside, the connection got no answer (" .. outcome(e) .. "), where a router without a forward would have refused it: most likely the router forwards the port to an address no computer has now (an old address after a DHCP change?) — or something past the router drops it",
               advice = { "In the router's admin page, point the forward for the port at this computer (" .. here(e) .. ") and give it a fixed address." },
               repair = e.upnp and "add-forward" or nil }
    end,
  },
  {
    -- No outside test: the router's own answers are all there is.
    id = "upnp-unavailable",
    when = function(e, f) return f.outside == nil and f.router_silent end,
    verdict = function(e)
      local untested = e.reflector_error and ("the reflector did not answer (" .. e.reflector_error .. "), so")
        or "without a reflector outside,"
      return { kind = "upnp-unavailable", cause = "upnp-unavailable",
               explanation = "the router answers neither UPnP nor NAT-PMP: set the forward up by hand in its admin page (" .. untested .. " portdoctor cannot tell whether one is already there)",
               advice = { by_hand(e), "On the other computer run: portdoctor listen — then portdoctor can test the forward from outside." } }
    end,
  },
  {
    id = "no-mapping",
    when = function(e, f) return f.outside == nil and e.mapping_client == nil and (e.upnp == true or e.natpmp == true) end,
    verdict = function(e)
      return { kind = "forward-missing", cause = "port-forward-missing",
               explanation = "the router has no UPnP forward for the port to this computer (a forward made in its admin page does not show there: run the reflector to test from outside)",
               repair = e.upnp and "add-forward" or nil }
    end,
  },
  {
    id = "unknown",
    when = function() return true end,
    verdict = function()
      return { kind = "unknown", status = "skip", explanation = "not enough evidence: run the reflector (portdoctor listen) on the other computer" }
    end,
  },
}

-- A set of rules: the bundled ones copied, to add to, replace or remove from.
local Ruleset = {}
Ruleset.__index = Ruleset

local function check_rule(rule, level)
  if type(rule) ~= "table" or type(rule.id) ~= "string" or type(rule.when) ~= "function" or type(rule.verdict) ~= "function" then
    error("a NAT rule is { id = \"…\", when = function(e, f) … end, verdict = function(e, f) … end }", level + 1)
  end
end

function Ruleset:index(id)
  for i, r in ipairs(self.rules) do if r.id == id then return i end end
  return nil
end

-- where: { before = id } or { after = id }; by default before "unknown", the catch-all.
function Ruleset:add(rule, where)
  check_rule(rule, 2)
  if self:index(rule.id) then error("there is already a NAT rule '" .. rule.id .. "': use replace", 2) end
  where = where or { before = "unknown" }
  local anchor = where.before or where.after
  local i = anchor and self:index(anchor)
  if anchor and not i then error("no NAT rule '" .. anchor .. "' to put '" .. rule.id .. "' next to", 2) end
  if not i then i = #self.rules + 1 elseif where.after then i = i + 1 end
  table.insert(self.rules, i, rule)
  return self
end

-- The rule keeps its place; `rule.id` may be left out.
function Ruleset:replace(id, rule)
  local i = self:index(id)
  if not i then error("no NAT rule '" .. tostring(id) .. "' to replace", 2) end
  if type(rule) == "table" and rule.id == nil then rule.id = id end
  check_rule(rule, 2)
  self.rules[i] = rule
  return self
end

function Ruleset:remove(id)
  local i = self:index(id)
  if not i then error("no NAT rule '" .. tostring(id) .. "' to remove", 2) end
  table.remove(self.rules, i)
  return self
end

-- The verdict of the first rule that holds, with `rule` (its id) and `status` filled in.
function Ruleset:decide(e)
  local f = M.facts(e)
  for _, r in ipairs(self.rules) do
    if r.when(e, f) then
      local v = r.verdict(e, f)
      v.rule = r.id
      v.status = v.status or (v.cause and "fail" or "pass")
      return v
    end
  end
  return { kind = "unknown", status = "skip", rule = "none", explanation = "no NAT rule applies to this evidence" }
end

function M.ruleset(from)
  local rules = {}
  for i, r in ipairs((from and from.rules) or M.default_rules) do rules[i] = r end
  return setmetatable({ rules = rules }, Ruleset)
end

-- The rules every port-forward step uses unless given its own: changing these changes them all.
M.rules = M.ruleset()

function M.decide(e) return M.rules:decide(e) end

return M
