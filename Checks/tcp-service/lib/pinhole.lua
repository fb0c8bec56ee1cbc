-- Over IPv6 nothing is translated: the other computer comes in at this computer's own global
-- address, and what stands in the way is the router's IPv6 firewall, which drops new inbound
-- connections until a pinhole lets one port in. This step tests that way in from outside (the
-- reflector connects back over IPv6) and, when it is shut, asks the router whether it can be asked
-- (UPnP IGD:2 WANIPv6FirewallControl, or PCP): then the repair opens a pinhole for this computer's
-- STABLE address (never a temporary one, which rotates away) for a stated time.
--
-- A separate file from lib/steps.lua (the shared steps): it only reads their results
-- (ctx.results.listener / firewall), so the packs list it as a step of its own, before the IPv4
-- port forward: over IPv6 the router forwards nothing, and its verdict does not wait on IPv4's.
local M = {}

local this_computer = host

local REFLECTOR_PORT = 4250
-- What the repair asks for: two hours, the RFC 6887 suggestion for a mapping an application
-- renews; the router may grant less, and the output says what it granted.
local LIFETIME = 7200

local function destination(ctx) return ctx.params.role ~= "source" end

local text = require("tcp-service:text")
local hostport, duration = text.hostport, text.duration

-- The reflector (--param reflector, else the peer's host) at an IPv6 address: a numeric one as
-- given, a name's first AAAA record. nil and why when it has none.
local function reflector6(ctx)
  local r, port = ctx.params.reflector, REFLECTOR_PORT
  local h
  if r then h, port = r.host, r.port or REFLECTOR_PORT
  elseif ctx.params.peer then h = ctx.params.peer.host end
  if not h then return nil, nil, "no reflector (--peer or --param reflector) to test the way in from outside" end
  if h:match("^%d+%.%d+%.%d+%.%d+$") then return nil, nil, "the reflector " .. h .. " is an IPv4 address" end
  if h:find(":") then return h, port end
  local res = socket.resolve(h)
  for _, a in ipairs(res.addresses or {}) do
    if a:find(":") then return a, port end
  end
  return nil, nil, "the reflector " .. h .. " has no IPv6 address (AAAA record)"
end

local function listens_ipv6(port)
  for _, l in ipairs(netstat.listeners(port)) do
    if l.family == "ipv6" and l.scope ~= "loopback-only" then return true end
  end
  return false
end

-- Whether the other computer has only IPv6 to come in on (a numeric IPv6 peer, or a name with
-- AAAA records and no A record).
local function peer_ipv6_only(ctx)
  local p = ctx.params.peer
  if not p then return false end
  if p.host:find(":") then return true end
  if p.host:match("^%d+%.%d+%.%d+%.%d+$") then return false end
  local v4, v6 = false, false
  for _, a in ipairs(socket.resolve(p.host).addresses or {}) do
    if a:find(":") then v6 = true else v4 = true end
  end
  return v6 and not v4
end

-- What is known of the other computer's IPv6, for a line where IPv4 cannot come in: "ipv6" (it
-- has IPv6), "ipv4-only", or "unknown"; and why, in words. The run's own observations first (a
-- paired run's connects; the reflector the pinhole step reached over IPv6 at the other computer's
-- own name), then the peer as given and its name's records.
function M.peer_family(ctx, evidence)
  local paired = pairing and pairing.paths and pairing.paths()
  if paired then
    for _, t in ipairs(paired.tests or {}) do
      -- Refused is an answer too: the other computer's packet came over IPv6.
      if t.family == "ipv6" and (t.outcome == "connected" or t.outcome == "refused") then
        return "ipv6", "the other computer reached " .. hostport(t.address, t.port) .. " over IPv6 (the paired test)"
      end
    end
  end
  local p = ctx.params.peer
  local h = p and p.host
  if not h then return "unknown", "no --peer says which computer connects" end
  if h:find(":") then return "ipv6", "the other computer's address " .. h .. " is IPv6" end
  -- Without --param reflector the reflector is the other computer itself: it answered over IPv6.
  if not ctx.params.reflector and evidence and evidence.reflector then
    return "ipv6", h .. " (where portdoctor listen runs) answered over IPv6 at " .. evidence.reflector
  end
  if h:match("^%d+%.%d+%.%d+%.%d+$") then
    return "unknown", "the other computer is given by its IPv4 address " .. h .. ", which says nothing of its IPv6"
  end
  local r = socket.resolve(h)
  local v4, v6
  for _, a in ipairs(r.addresses or {}) do
    if a:find(":") then v6 = v6 or a else v4 = v4 or a end
  end
  if v6 then return "ipv6", h .. " has an IPv6 address (AAAA record " .. v6 .. ")" end
  if v4 then return "ipv4-only", h .. " has only IPv4 addresses (an A record " .. v4 .. ", no AAAA)" end
  return "unknown", h .. " does not resolve here (" .. (r.error or r.status or "no address") .. ")"
end

-- Behind the provider's NAT (CGNAT, DS-Lite) IPv4 cannot come in whatever the home router does;
-- that is the cause of nothing when the other computer comes in over IPv6. Asked by the
-- port-forward step (which runs after this one) when its rules say cgnat. nil when the way in
-- over IPv6 is not proven (this step did not see the reflector connect back to the stable
-- address): the cgnat verdict stands as it was. Else { status = "pass" | "warn" | "fail",
-- summary, advice, evidence }: pass when the other computer has IPv6, fail (cgnat) when it has
-- only IPv4, warn when nothing here tells.
function M.carrier_nat(ctx, explanation)
  local r = ctx.results and ctx.results.pinhole
  local e = r and r.evidence
  if not r or r.status ~= "pass" or not e or not e.stable then return nil end
  local cb = e.reflect and e.reflect.connect_back and e.reflect.connect_back.status
  if cb ~= "connected" then return nil end
  local port, stable = ctx.params.port, e.stable
  local family, why = M.peer_family(ctx, e)
  local name = ctx.params.public_name
  local target = name and string.format("%s (its AAAA record must be %s)", name, stable)
    or string.format("%s (or a name whose AAAA record is it)", stable)
  local works = string.format("IPv6 works: the reflector at %s connected back to [%s]:%d", e.reflector or "?", stable, port)
  local connect_to = string.format("Make sure the other computer connects to %s over IPv6, not to this line's IPv4 address.", target)
  local evidence = { stable = stable, peer = family, why = why }
  if family == "ipv6" then
    return { status = "pass", evidence = evidence,
             summary = string.format("IPv4 cannot come in (carrier-grade NAT: %s); %s, and the other computer has IPv6: %s",
                                     explanation, works, why),
             advice = { connect_to } }
  end
  if family == "ipv4-only" then
    return { status = "fail", evidence = evidence,
             summary = string.format("%s; %s, but the other computer has only IPv4: %s", explanation, works, why),
             advice = { string.format("IPv6 works on this line: if the other computer gets IPv6 (from its provider), it can connect to %s.", target) } }
  end
  return { status = "warn", evidence = evidence,
           summary = string.format("IPv4 cannot come in (carrier-grade NAT: %s); %s — whether the other computer has IPv6 is unknown (%s)",
                                   explanation, works, why),
           advice = { "Check that the other computer has IPv6 (its provider gives it a global IPv6 address: on it, `portdoctor probe` or its network settings show one); without it, it cannot come in here at all.",
                      connect_to } }
end

-- What the router says about being asked for a pinhole: IGD:2's firewall status (over IPv6, as
-- pinholes must be asked) and whether a PCP server answers at the default IPv6 router.
function M.router(opts)
  opts = opts or {}
  local r = {}
  local g = upnp.discover(opts.wait or 1, { ipv6 = true })[1]
  if g then
    r.upnp = { gateway = g.location }
    local s, why = upnp.firewall_status(g)
    if s then
      r.upnp.enabled, r.upnp.inbound_pinhole_allowed = s.enabled, s.inbound_pinhole_allowed
    else
      r.upnp.error = why
    end
  end
  local server = pcp.server("ipv6")
  if server then
    local a = pcp.announce(server, { tries = 1 })
    r.pcp = { server = server, status = a.status, result_name = a.result_name }
    r.pcp.answers = a.status == "answered" and a.result_name == "SUCCESS"
  end
  r.upnp_can = r.upnp ~= nil and r.upnp.enabled == true and r.upnp.inbound_pinhole_allowed == true
  r.pcp_can = r.pcp ~= nil and r.pcp.answers == true
  r.askable = r.upnp_can or r.pcp_can
  -- IGD:2 says the IPv6 firewall is off: a failed connect-back is not the pinhole's.
  r.firewall_off = r.upnp ~= nil and r.upnp.enabled == false
  return r
end

-- The repair: a pinhole for the stable address, IGD:2 first (it names the address), else PCP
-- (whose mapping is for the address the request comes from: checked, and undone when that is
-- not the stable one).
local function open_pinhole(ctx)
  local port = ctx.params.port
  local stable = this_computer.stable_ipv6()
  if not stable then return false, "this computer has no stable global IPv6 address to open a pinhole for" end
  local granted, how
  local tried = {}
  local g = upnp.discover(1, { ipv6 = true })[1]
  if g then
    local ok, why, p = upnp.add_pinhole(g, port, { address = stable, lease = LIFETIME })
    if ok then granted, how = p.lease, "UPnP IGD:2, pinhole " .. p.id
    else tried[#tried + 1] = "UPnP IGD:2: " .. tostring(why) end
  end
  if not granted then
    local server = pcp.server("ipv6")
    if server then
      local a = pcp.map(port, { ipv6 = true, server = server, lifetime = LIFETIME })
      if a.status == "answered" and a.result_name == "SUCCESS" then
        if a.internal_address and a.internal_address ~= stable then
          -- The router mapped the address the request came from, a temporary one: undone.
          pcp.map(port, { ipv6 = true, server = server, lifetime = 0, nonce = a.nonce })
          tried[#tried + 1] = "PCP mapped " .. a.internal_address .. " (the address this computer sends from, not its stable one): undone"
        else
          granted, how = a.lifetime, "PCP, server " .. server
        end
      else
        tried[#tried + 1] = "PCP: " .. (a.result_name or a.status)
      end
    end
  end
  if not granted then
    return false, "the router did not open a pinhole (" .. (#tried > 0 and table.concat(tried, "; ") or "it answers neither UPnP IGD:2 nor PCP over IPv6") .. ")"
  end
  return true, string.format(
    "TCP %d to %s is open from outside over IPv6 for %s (granted by the router, %s); portdoctor renews nothing: run it again with --fix before then, or open the port permanently in the router's IPv6 firewall page",
    port, stable, duration(granted), how)
end

function M.step(opts)
  opts = opts or {}
  return {
    title = "The router's IPv6 firewall lets the other computer in (a pinhole)",
    after = opts.after,
    repairs = {
      ["open-pinhole"] = {
        title = "Ask the router for an IPv6 pinhole (UPnP IGD:2 or PCP)",
        changes = "opens the port to this computer's stable IPv6 address in the router's firewall, for 2 hours",
        apply = open_pinhole,
      },
    },
    run = function(ctx)
      if not destination(ctx) then return skip("not needed on the computer that sends (role=source)") end
      local port = ctx.params.port
      -- The reflector first: with an IPv4 one (most runs) nothing here can be tested, and nothing is asked.
      local at, rport, why = reflector6(ctx)
      if not at then return skip(why .. ": the way in over IPv6 cannot be tested from outside") end
      local stable = this_computer.stable_ipv6()
      if not stable then return skip("this computer has no stable global IPv6 address: nothing comes in over IPv6") end
      if not listens_ipv6(port) then
        return skip("the service does not listen on IPv6 (the listener step says whether that matters)")
      end
      -- A fault here explains a failed connect-back first: said by its own step.
      local results = ctx.results or {}
      local l, fw = results.listener, results.firewall
      if l and l.status == "fail" then return skip("the listener step failed: fix that first") end
      local fw6 = fw and fw.evidence and fw.evidence.ipv6
      -- Neighbour discovery refused: the router cannot find this computer, pinhole or not.
      local nd6 = fw6 and fw6.neighbour_discovery
      local refused = function(v) return v and (v.decision == "drop" or v.decision == "reject") end
      if fw and fw.status == "fail" or refused(fw6) or (refused(nd6) and nd6.packet == "neighbour-solicitation") then
        return skip("this computer's own firewall blocks IPv6 first (the firewall step)")
      end
      -- From the stable address: the connect-back goes where the request came from, and a pinhole
      -- (and the other computer) should name the stable address, not a temporary one.
      local r = portforward.reflect(at, { port = rport, connect_back = port, timeout = 3, from = stable })
      local e = { stable = stable, reflector = hostport(at, rport), reflect = r }
      if not r.reached or not r.connect_back then
        return skip { summary = "the reflector at " .. hostport(at, rport) .. " gave no connect-back over IPv6: " .. (r.error or "no answer"),
                      evidence = e }
      end
      local cb = r.connect_back.status
      local seen = r.seen and r.seen:match("^%[?([^%]]+)%]?:%d+$") or r.seen
      e.seen = seen
      local other_source = seen and seen ~= stable and seen:find(":") ~= nil
      if cb == "connected" or cb == "refused" then
        -- Refused: the packet got past the router to this computer; the listener and firewall steps say why.
        return pass { summary = string.format("the reflector at %s connected back to [%s]:%d over IPv6%s", hostport(at, rport),
                                              seen or stable, port, cb == "refused" and " (this computer refused it: the router lets it through)" or ""),
                      evidence = e }
      end
      local router = M.router()
      e.router = router
      if router.firewall_off and not router.pcp_can then
        return warn { summary = string.format("the reflector's connect-back to [%s]:%d over IPv6 got no answer (%s), yet the router says its IPv6 firewall is off", seen or stable, port, cb),
                      advice = { "Something beyond the router drops it: the provider's network, or a firewall in between." },
                      cause = "filtered-upstream", evidence = e }
      end
      -- A failure when IPv6 is the other computer's only way in; else a warning (it may come in
      -- over IPv4, which the port-forward step, after this one, tests).
      local only = peer_ipv6_only(ctx)
      local how = only and fail or warn
      local summary = string.format("the other computer cannot come in over IPv6: the reflector's connect-back to [%s]:%d got no answer (%s) — the router's IPv6 firewall has no pinhole for it",
                                    seen or stable, port, cb)
      local advice
      if router.askable then
        local via = router.upnp_can and "UPnP IGD:2 (its IPv6 firewall allows inbound pinholes)" or "PCP"
        summary = summary .. "; the router can be asked for one (" .. via .. ")"
        advice = { string.format("Run portdoctor again with --fix: it asks the router for a pinhole for TCP %d to %s (this computer's stable address) for 2 hours, or open it permanently in the router's IPv6 firewall page.", port, stable) }
      else
        summary = summary .. "; the router answers neither UPnP IGD:2 pinholes nor PCP, so only its admin page can open one"
        advice = { string.format("In the router's admin page (IPv6 firewall, 'allow inbound IPv6' or 'port sharing'), allow incoming TCP %d to %s, this computer's stable address (not a temporary one: it rotates away).", port, stable) }
      end
      if other_source then
        advice[#advice + 1] = string.format("This computer sent from %s, not its stable address %s: the connect-back went there (a temporary address); the other computer should use %s.", seen, stable, stable)
      end
      if not only then
        advice[#advice + 1] = "Until then the other computer can come in over IPv4 only (through the router's forward: the port-forward step)."
      end
      return how {
        summary = summary, cause = "ipv6-pinhole-missing", advice = advice, evidence = e,
        repairs = router.askable and { "open-pinhole" } or nil,
      }
    end,
  }
end

return M
