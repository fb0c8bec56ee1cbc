-- The diagnosis of "why can't the other computer connect to this service?", step by step, shared
-- by every pack about a TCP service (crashplan uses it through require("tcp-service:steps")).
-- Each function returns a check definition; the pack's check files pass it to check { }.
--
-- ctx.params used: port, peer (endpoint, optional), role ("destination" listens, "source"
-- connects), service (name or runit directory, optional), program (process name, optional).
local M = {}

local function destination(ctx) return ctx.params.role ~= "source" end

-- The service names to try: the pack's per-platform list, or the one the person gave.
local function candidates(ctx, names)
  if ctx.params.service and ctx.params.service ~= "" then return { ctx.params.service } end
  return (names and names[ctx.platform]) or {}
end

local function find_service(ctx, names)
  local first
  for _, name in ipairs(candidates(ctx, names)) do
    local s = service.status(name)
    if s and s.installed then return s end
    first = first or s
  end
  return nil, first
end

local function peer(ctx)
  local p = ctx.params.peer
  if not p then return nil end
  return p.host, p.port or ctx.params.port
end

local function is_numeric(host) return host and (host:match("^%d+%.%d+%.%d+%.%d+$") or host:find(":")) ~= nil end

-- "7 days", "1 day 2 hours", "45 minutes": how long a router keeps a forward.
local function duration(seconds)
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

local function owner_text(sock)
  if sock.owner then return string.format("%s (pid %d)", sock.owner.program, sock.owner.pid) end
  return "another program"
end

-- Is the socket's owner the service itself?
local function ours(ctx, sock)
  local want = ctx.params.program
  if not want or want == "" or not sock.owner then return true end
  return sock.owner.program == want
end

function M.service(opts)
  opts = opts or {}
  return {
    title = "The " .. (opts.label or "service") .. " is installed and running",
    repairs = {
      restart = {
        title = "Restart the " .. (opts.label or "service"),
        changes = "restarts it (connections pause for a few seconds)",
        privileged = true,
        apply = function(ctx)
          local s = find_service(ctx, opts.names)
          if not s then return false, "no installed service to restart" end
          local ok, what = service.restart(s.name, { manager = s.manager, port = destination(ctx) and ctx.params.port or nil, timeout = 20 })
          if not ok then return false, what end
        end,
      },
    },
    run = function(ctx)
      local names = candidates(ctx, opts.names)
      if #names == 0 then return skip("no service name for " .. ctx.platform .. ": give it with --param service=NAME") end
      local s, seen = find_service(ctx, opts.names)
      if not s then
        return fail {
          summary = "the " .. (opts.label or "service") .. " is not installed (looked for " .. table.concat(names, ", ") .. ")",
          cause = "service-not-installed",
          advice = { "Install the " .. (opts.label or "service") .. ", or give its name with --param service=NAME." },
          evidence = seen,
        }
      end
      if not s.running and destination(ctx) then
        -- A service that cannot start because another program took its port: that is the cause.
        for _, l in ipairs(netstat.listeners(ctx.params.port)) do
          if not ours(ctx, l) then
            return fail {
              summary = string.format("%s is %s: TCP %d is held by %s, so it cannot listen", s.name, s.state,
                                      ctx.params.port, owner_text(l)),
              cause = "port-in-use",
              advice = { "Stop " .. owner_text(l) .. ", then start the " .. (opts.label or "service") .. ": "
                           .. (service.restart_command(s.name, { manager = s.manager }) or "restart it"),
                         "Or move the " .. (opts.label or "service") .. " to a free port (see the listen port step)." },
              evidence = { service = s, holder = l },
            }
          end
        end
      end
      if not s.running then
        return fail {
          summary = string.format("%s is %s (%s)", s.name, s.state, s.manager),
          cause = "service-not-running",
          advice = { "Start it: " .. (service.restart_command(s.name, { manager = s.manager }) or "restart the service") },
          evidence = s, repairs = { "restart" },
        }
      end
      return pass { summary = string.format("%s is running (%s, pid %s)", s.name, s.manager, tostring(s.pid)), evidence = s }
    end,
  }
end

function M.listener(opts)
  opts = opts or {}
  return {
    title = "Something listens on the port, where other computers can reach it",
    needs = opts.needs,
    run = function(ctx)
      if not destination(ctx) then return skip("not needed on the computer that sends (role=source)") end
      local port = ctx.params.port
      local ls = netstat.listeners(port)
      if #ls == 0 then
        return fail {
          summary = "nothing listens on TCP " .. port,
          cause = "no-listener",
          advice = { "Start the " .. (opts.label or "service") .. ", and check that it is set to listen on " .. port .. "." },
        }
      end
      for _, l in ipairs(ls) do
        if not ours(ctx, l) then
          return fail {
            summary = string.format("TCP %d is held by %s, not by the %s", port, owner_text(l), opts.label or "service"),
            cause = "port-in-use",
            advice = { "Stop " .. owner_text(l) .. ", or move the " .. (opts.label or "service") .. " to a free port (see the listen port step)." },
            evidence = l,
          }
        end
      end
      local v4 = false
      for _, l in ipairs(ls) do
        if l.scope ~= "loopback-only" and (l.family == "ipv4" or l.dual_stack) then v4 = true end
      end
      local all_loopback = true
      for _, l in ipairs(ls) do if l.scope ~= "loopback-only" then all_loopback = false end end
      if all_loopback then
        return fail {
          summary = string.format("TCP %d listens on %s only: only this computer can connect", port, ls[1]["local"].text),
          cause = "listener-loopback-only",
          advice = { "Set the " .. (opts.label or "service") .. " to listen on all addresses (0.0.0.0) instead of 127.0.0.1, then restart it." },
          evidence = ls,
        }
      end
      if not v4 then
        return warn { summary = "TCP " .. port .. " listens on IPv6 only: computers that connect over IPv4 cannot", evidence = ls }
      end
      return pass { summary = string.format("%s listens on %s", owner_text(ls[1]), ls[1]["local"].text), evidence = ls }
    end,
  }
end

function M.firewall(opts)
  opts = opts or {}
  return {
    title = "This computer's firewall lets the connection through",
    repairs = {
      ["open-port"] = {
        title = "Open the port in the firewall",
        changes = "adds a rule allowing the port",
        privileged = true,
        apply = function(ctx)
          local host = peer(ctx)
          local ok, what = firewall.open { port = ctx.params.port, direction = destination(ctx) and "in" or "out",
                                           remote = is_numeric(host) and host or nil, program = ctx.params.program }
          if not ok then return false, what end
        end,
      },
    },
    run = function(ctx)
      local host, peer_port = peer(ctx)
      local inbound = destination(ctx)
      local v = firewall.check { port = inbound and ctx.params.port or (peer_port or ctx.params.port),
                                 direction = inbound and "in" or "out", remote = is_numeric(host) and host or nil,
                                 program = ctx.params.program }
      local dir = inbound and "incoming" or "outgoing"
      if v.decision == "allow" then return pass { summary = dir .. " TCP " .. ctx.params.port .. " is allowed (" .. v.tool .. ")", evidence = v } end
      if v.decision == "unknown" then
        return warn { summary = "cannot tell what the firewall does: " .. (v.note or v.tool), evidence = v }
      end
      local advice = { v.fix or ("Allow " .. dir .. " TCP " .. ctx.params.port .. " in " .. v.tool .. ".") }
      if v.tool:find("macOS") or v.tool:find("Windows") then
        advice[#advice + 1] = "An exception for the program can stop working after an upgrade; an exception for the port lasts."
      end
      advice[#advice + 1] = "Check the firewall on the other computer too."
      return fail {
        summary = string.format("%s TCP %d is %s by %s (%s)", dir, ctx.params.port, v.decision == "drop" and "dropped" or "rejected", v.tool, v.rule or "?"),
        cause = inbound and "firewall-blocks-inbound" or "firewall-blocks-outbound",
        advice = advice, evidence = v, repairs = { "open-port" },
      }
    end,
  }
end

function M.reach_peer(opts)
  opts = opts or {}
  return {
    title = "Connect to the other computer (the telnet test)",
    next = opts.next,
    run = function(ctx)
      local host, port = peer(ctx)
      if not host then return skip("no other computer given: use --peer HOST") end
      local r = socket.connect(host, port, { timeout = opts.timeout or 3 })
      if r.status == "connected" then
        return pass { summary = string.format("connected to %s in %s ms", r.remote.text, tostring(r.rtt_ms)), evidence = r,
                      next = opts.on_success }
      end
      local causes = { ["dns-not-found"] = "peer-unresolvable", ["dns-temporary"] = "peer-unresolvable",
                       ["net-unreachable"] = "peer-unreachable", ["host-unreachable"] = "peer-unreachable",
                       refused = "no-listener", timeout = "filtered-upstream", ["blocked-locally"] = "firewall-blocks-outbound" }
      local advice = {
        refused = "The other computer answered but nothing listens on " .. port .. " there (or its firewall rejects): check the service and firewall on that side.",
        timeout = "Nothing answered: a firewall drops it, or the router in front of the other computer does not forward " .. port .. ".",
        ["dns-not-found"] = "The name " .. host .. " does not resolve: check the spelling, or use the address.",
      }
      return fail {
        summary = string.format("could not connect to %s:%d: %s", host, port, r.status),
        cause = causes[r.status] or "peer-unreachable",
        advice = { advice[r.status] or ("Check that " .. host .. " is on and reachable from here.") },
        evidence = r, next = opts.on_failure,
      }
    end,
  }
end

function M.port_forward(opts)
  opts = opts or {}
  return {
    title = "The router forwards the port to this computer",
    needs = opts.needs,
    repairs = {
      ["add-forward"] = {
        title = "Ask the router to forward the port (UPnP)",
        changes = "adds a port mapping on the router",
        apply = function(ctx)
          local g = upnp.discover(1)[1]
          if not g then return false, "the router does not answer UPnP" end
          local ok, why, m = upnp.add_mapping(g, ctx.params.port)
          if not ok then return false, why end
          local port = ctx.params.port
          local admin = "a forward set in the router's admin page (TCP " .. port .. " to this computer) is permanent"
          if m.lease == 0 then
            return true, "the router forwards TCP " .. port .. " here with no time limit (though many routers drop UPnP forwards when they restart); " .. admin
          end
          return true, string.format("the router forwards TCP %d here for %s only (the longest it grants), then the forward expires; %s",
                                     port, duration(m.lease), admin)
        end,
      },
    },
    run = function(ctx)
      if not destination(ctx) then return skip("not needed on the computer that sends (role=source)") end
      local host = peer(ctx)
      local s = portforward.survey(ctx.params.port, { reflector = is_numeric(host) and host or nil })
      local ok = { ["no-nat"] = true, ["forward-ok"] = true }
      if ok[s.kind] then return pass { summary = s.explanation, evidence = s.evidence } end
      if s.kind == "unknown" then
        return skip { summary = s.explanation, advice = { "On the other computer run: portdoctor listen" } }
      end
      local advice = { s.explanation }
      if s.gateway and s.gateway.manufacturer then
        advice[#advice + 1] = "Your router (" .. s.gateway.manufacturer .. ") can forward it in its admin page; forward TCP " .. ctx.params.port .. " to this computer."
      end
      return fail {
        summary = s.explanation, cause = s.cause, advice = advice, evidence = s.evidence,
        repairs = (s.kind == "forward-missing" and s.evidence.upnp) and { "add-forward" } or nil,
      }
    end,
  }
end

function M.listen_port(opts)
  opts = opts or {}
  local low, high = opts.low or 1024, opts.high or 5999
  return {
    title = "The listen port is a good one, and free for the service",
    run = function(ctx)
      local port = ctx.params.port
      if port < low then
        return fail { summary = "port " .. port .. " is below " .. low .. ": such ports are reserved", cause = "port-in-use",
                      advice = { "Choose a port between " .. low .. " and " .. high .. "." } }
      end
      local b = socket.bind_test(port)
      if b.status == "free" or b.status == "denied" then return pass("TCP %d is free (the service can listen on it)", port) end
      for _, h in ipairs(b.holders) do
        if not ours(ctx, h) then
          local suggestion
          for candidate = low + 3000, high do
            if socket.bind_test(candidate).status == "free" and #netstat.listeners(candidate) == 0 then suggestion = candidate break end
          end
          return fail {
            summary = string.format("TCP %d is taken by %s", port, owner_text(h)), cause = "port-in-use",
            advice = { suggestion and ("Choose another listen port, for example " .. suggestion .. " (free), in the app's settings.") or "Choose another listen port.",
                       "Forward the new port on your router too." },
          }
        end
      end
      return pass("TCP %d is used by the service itself", port)
    end,
  }
end

-- A router vendor overlay's port-forward step: the shared one, with the vendor's own way to set up
-- the forward in place of the generic advice, and the vendor's own check once the forward works.
-- vendor = { name =, forward_steps = function(ctx) -> { step, … }, check = function(ctx, result) -> result? }
function M.vendor_port_forward(vendor)
  local def = M.port_forward { needs = { "listener", "firewall" } }
  def.title = "The " .. vendor.name .. " router forwards the port to this computer"
  local shared = def.run
  def.run = function(ctx)
    local r = shared(ctx)
    if r.status == "fail" then
      local advice = { r.advice and r.advice[1] }
      for _, step in ipairs(vendor.forward_steps(ctx)) do advice[#advice + 1] = step end
      r.advice = advice
    elseif r.status == "pass" and vendor.check then
      return vendor.check(ctx, r) or r
    end
    return r
  end
  return def
end

return M
