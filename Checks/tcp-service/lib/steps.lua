-- The diagnosis of "why can't the other computer connect to this service?", step by step, shared
-- by every pack about a TCP service (crashplan uses it through require("tcp-service:steps")).
-- Each function returns a check definition; the pack's check files pass it to check { }.
--
-- ctx.params used: port, peer (endpoint, optional: the other computer, and its port for the
-- service — the port it listens on when this one sends, the port this one would connect to),
-- reflector (endpoint, optional: where `portdoctor listen` runs, by default the peer on 4250),
-- role ("destination" listens, "source" connects), service (name or runit directory, optional),
-- program (process name, optional: a hint; who owns a listener is told from the service manager's
-- process tree and the pack's program names, see M.identify).
local M = {}

-- The `host` module, under a name that the steps' own `host` (the other computer's name) cannot hide.
local this_computer = host

local function destination(ctx) return ctx.params.role ~= "source" end

-- The service names to try: the pack's per-platform list, or the one the person gave.
local function candidates(ctx, names)
  if ctx.params.service and ctx.params.service ~= "" then return { ctx.params.service } end
  return (names and names[ctx.platform]) or {}
end

-- The manager's own config file when a person keeps it elsewhere (--param service_config: supervisord's,
-- for supervisorctl -c); without it, the one the running supervisord was started with.
local function manager_options(ctx, s)
  local c = ctx.params.service_config
  return { manager = s and s.manager or nil, config = (c and c ~= "") and c or nil }
end

local function find_service(ctx, names)
  local first
  for _, name in ipairs(candidates(ctx, names)) do
    local s = service.status(name, manager_options(ctx))
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

-- `portdoctor listen`'s port when the reflector is given without one.
local REFLECTOR_PORT = 4250

-- Where to ask for the outside tests: --param reflector, else the peer's host on the reflector's port.
local function reflector(ctx)
  local r = ctx.params.reflector
  if r then return r.host, r.port or REFLECTOR_PORT end
  local host = peer(ctx)
  if host then return host, REFLECTOR_PORT end
end

local text = require("tcp-service:text")
local hostport, duration = text.hostport, text.duration

-- An address that only exists on local networks (RFC 1918, link-local, IPv6 ULA and link-local).
local function private_address(ip)
  local a, b = ip:match("^(%d+)%.(%d+)%.%d+%.%d+$")
  if a then
    a, b = tonumber(a), tonumber(b)
    return a == 10 or (a == 172 and b >= 16 and b <= 31) or (a == 192 and b == 168) or (a == 169 and b == 254)
  end
  local lower = ip:lower()
  return lower:match("^f[cd]") ~= nil or lower:match("^fe[89ab]") ~= nil
end

local function is_numeric(host) return host and (host:match("^%d+%.%d+%.%d+%.%d+$") or host:find(":")) ~= nil end

-- The peer's address for firewall rules that name it: a numeric peer as given, a name resolved.
-- Inbound, the other computer comes through the router's IPv4 forward, so its IPv4 address; outbound,
-- the address a connect tries first. nil when the name does not resolve (the port-forward and
-- reach-peer steps say so).
local function peer_address(ctx, host)
  if not host or is_numeric(host) then return host end
  local r = socket.resolve(host)
  if destination(ctx) then
    for _, a in ipairs(r.addresses) do if a:match("^%d+%.%d+%.%d+%.%d+$") then return a end end
  end
  return r.addresses[1]
end

local function owner_text(sock)
  if sock.owner then return string.format("%s (pid %d)", sock.owner.program, sock.owner.pid) end
  if sock.access == "no-permission" then return "another user's program" end
  return "a program this computer does not name"
end

-- What a primitive could not see for want of rights says `no-permission` (Docs/lua-api.md): in a
-- firewall decision, a service state, or a socket's or process's `access`. Such a step warns with
-- the exact command to run again as administrator, and never fails on what it could not see.
function M.no_permission(x)
  return type(x) == "table" and (x.access == "no-permission" or x.decision == "no-permission"
                                 or x.state == "no-permission")
end

-- "run `sudo portdoctor run crashplan --peer …` to check this step": the person's own command.
function M.sudo_hint(ctx)
  if ctx.platform == "windows" then
    return "run `" .. (ctx.command or "portdoctor") .. "` again in a terminal opened as administrator to check this step"
  end
  return "run `sudo " .. (ctx.command or "portdoctor") .. "` to check this step"
end

-- The warning of a step that could not see: what it could not tell, why (the tool's own words),
-- and how to see it. Run as administrator already, sudo would not help: the words say what refused.
function M.unseen(ctx, what, why, fields)
  local r = fields or {}
  if ctx.privileged then
    r.summary = "cannot tell " .. what .. ": this computer refused even the administrator (" .. (why or "no-permission") .. ")"
  else
    r.summary = "cannot tell " .. what .. " without administrator rights — " .. M.sudo_hint(ctx)
      .. (why and (" (" .. why .. ")") or "")
  end
  r.advice = r.advice or {}
  table.insert(r.advice, 1, ctx.privileged and "Look at it yourself, on a computer (or container) that lets the administrator read it."
                              or ("Run portdoctor again as administrator: sudo " .. (ctx.command or "portdoctor")))
  return warn(r)
end

-- A program's name as compared: Windows names end in .exe and ignore case.
-- A manager's own word for a stopped service's state ("down", "fail", "inactive (dead)", "STOPPED",
-- "crashed") in plain English, for the summary a person reads: "is stopped", "has failed". The word
-- itself stays in the evidence. First match wins: "activating (auto-restart)" keeps restarting.
local state_phrases = {
  { "auto%-restart", "keeps restarting" }, { "fail", "has failed" }, { "crash", "has crashed" },
  { "start_pending", "is starting" }, { "starting", "is starting" }, { "activating", "is starting" },
  { "stop_pending", "is stopping" }, { "stopping", "is stopping" }, { "deactivating", "is stopping" },
  { "finish", "is stopping" }, { "pause", "is paused" },
  { "down", "is stopped" }, { "stop", "is stopped" }, { "inactive", "is stopped" }, { "dead", "is stopped" },
  { "not running", "is stopped" }, { "exited", "is stopped" },
  { "not loaded", "is not loaded" }, { "not found", "is not found" }, { "not installed", "is not installed" },
}

--- "the crashplan service is stopped (runit)": a service that does not run, said plainly.
function M.service_state(s)
  local word = string.lower(s.state or "")
  local phrase
  for _, p in ipairs(state_phrases) do
    if word:find(p[1]) then phrase = p[2]; break end
  end
  -- A word we do not know: say it does not run, and what its manager calls it.
  local how = phrase and s.manager or string.format("%s says \"%s\"", s.manager, s.state or "?")
  -- systemd's unit names end in ".service": "the crashplan service", not "the crashplan.service service".
  local name = tostring(s.name or "?"):gsub("%.service$", "")
  return string.format("the %s service %s (%s)", name, phrase or "is not running", how)
end

local function plain(name)
  return (name:lower():gsub("%.exe$", ""))
end

-- The names the service's process may have: the pack's list (opts.programs, the same on every
-- platform or per platform), and --param program as one more hint.
local function program_names(ctx, opts)
  local names = {}
  local known = opts and opts.programs or {}
  if known[ctx.platform] then known = known[ctx.platform] end
  for _, n in ipairs(known) do names[#names + 1] = n end
  local hint = ctx.params.program
  if hint and hint ~= "" then names[#names + 1] = hint end
  return names
end

local function contains(list, x)
  for _, v in ipairs(list or {}) do if v == x then return true end end
  return false
end

-- Is the socket's owner the service itself? From evidence, strongest first: the owner is the
-- service manager's main process or one of its descendants, or is in the service's cgroup; else
-- its full program name (not Linux's comm, cut at 15 characters) is one the pack knows for the app.
-- Returns true, false (another program), or nil (cannot tell), and how it was told.
-- opts: names (service names per platform), programs (process names); the service status may be given.
function M.identify(ctx, sock, opts, s)
  if not sock.owner and sock.access == "no-permission" then
    return nil, "it is another user's program, which only the administrator may see"
  end
  if not sock.owner then return nil, "this computer does not say which program owns it" end
  local o = sock.owner
  if s == nil then s = find_service(ctx, opts and opts.names) or false end
  -- A status the manager would not tell says nothing either way (it is not "stopped").
  if s and M.no_permission(s) then s = false end
  if s and s.running and s.pid and o.pid == s.pid then return true, string.format("it is %s's main process", s.name) end
  local info = process.info(o.pid)
  if s and s.running and s.pid then
    if info and contains(info.ancestors, s.pid) then
      return true, string.format("it descends from %s's main process (pid %d)", s.name, s.pid)
    end
  end
  if s and s.running and s.cgroup and info and info.cgroup
      and (info.cgroup == s.cgroup or info.cgroup:sub(1, #s.cgroup + 1) == s.cgroup .. "/") then
    return true, string.format("it is in %s's control group %s", s.name, s.cgroup)
  end
  local full = (info and info.program) or o.program
  for _, n in ipairs(program_names(ctx, opts)) do
    if full and plain(full) == plain(n) then return true, "its program is " .. full end
  end
  -- Positive evidence that it is another program: the service is known not to run, or runs as a
  -- process tree that this one is not part of, or the person named the program and this is not it.
  if s and not s.running then return false, M.service_state(s) end
  if s and s.running and s.pid then
    return false, string.format("it is not %s's process (pid %d) nor one of its children", s.name, s.pid)
  end
  local hint = ctx.params.program
  if hint and hint ~= "" then return false, string.format("its program is %s, not %s", full or "?", hint) end
  return nil, "neither the service manager nor the program's name says it is the service"
end

local function ours(ctx, sock, opts, s) return M.identify(ctx, sock, opts, s) ~= false end

-- The command that shows who holds a port, for advice when this computer would not say.
local function who_holds(ctx, port)
  if ctx.platform == "macos" then return "sudo lsof -nP -iTCP:" .. port .. " -sTCP:LISTEN" end
  if ctx.platform == "windows" then return "netstat -ano -p tcp | findstr :" .. port .. " (as administrator)" end
  return "sudo ss -ltnp 'sport = :" .. port .. "'"
end

local function restart_repair(opts)
  return {
    title = "Restart the " .. (opts.label or "service"),
    changes = "restarts it (connections pause for a few seconds)",
    privileged = true,
    apply = function(ctx)
      local s = find_service(ctx, opts.names)
      if not s then return false, "no installed service to restart" end
      local options = manager_options(ctx, s)
      options.port, options.timeout = destination(ctx) and ctx.params.port or nil, 20
      local ok, what = service.restart(s.name, options)
      if not ok then return false, what end
    end,
  }
end

-- The service step's answer when no service manager has the service under `names`, but something
-- listens on its port that may be it: a warn naming that program, or nil (nothing listens, or only
-- programs known to be something else: the service is not installed).
function M.unmanaged(ctx, opts, names)
  local port = ctx.params.port
  local label = opts.label or "service"
  local maybe, known
  for _, l in ipairs(netstat.listeners(port)) do
    local mine, why = M.identify(ctx, l, opts, false)
    if mine == true then known = known or { listener = l, why = why }
    elseif mine == nil then maybe = maybe or { listener = l, why = why } end
  end
  local it = known or maybe
  if not it then return nil end
  local l = it.listener
  local looked = table.concat(names, ", ")
  local summary
  if known then
    summary = string.format("the %s runs (%s listens on TCP %d: %s), but no service manager has it under %s",
                            label, owner_text(l), port, it.why, looked)
  else
    summary = string.format("%s listens on TCP %d, but no service manager has the %s under %s: if that program is the %s, it was started by hand or has another name",
                            owner_text(l), port, label, looked, label)
  end
  local advice = {
    "Give the service's name with --param service=NAME, so that portdoctor can tell its state and restart it"
      .. (ctx.command and (" (" .. ctx.command .. " --param service=NAME)") or "") .. ".",
  }
  if not known then
    advice[#advice + 1] = "If " .. owner_text(l) .. " is not the " .. label .. ", stop it and install the "
      .. label .. " (see the listener step)."
  end
  if not l.owner then advice[#advice + 1] = "See which program it is: " .. who_holds(ctx, port) end
  return warn { summary = summary, advice = advice, evidence = { listeners = { l }, looked_for = names } }
end

function M.service(opts)
  opts = opts or {}
  return {
    title = "The " .. (opts.label or "service") .. " is installed and running",
    repairs = { restart = restart_repair(opts) },
    run = function(ctx)
      local names = candidates(ctx, opts.names)
      if #names == 0 then return skip("no service name for " .. ctx.platform .. ": give it with --param service=NAME") end
      local s, seen = find_service(ctx, opts.names)
      if not s and destination(ctx) then
        -- Not under the names looked for, yet something may listen on the service's port: a
        -- service started by hand, or registered under another name. The socket table says who
        -- (M.identify: the pack's program names, --param program); the listener step judges the
        -- port, so it must run — this step warns instead of failing it.
        local what = M.unmanaged(ctx, opts, names)
        if what then return what end
      end
      if not s then
        return fail {
          summary = "the " .. (opts.label or "service") .. " is not installed (looked for " .. table.concat(names, ", ") .. ")",
          cause = "service-not-installed",
          advice = { "Install the " .. (opts.label or "service") .. ", or give its name with --param service=NAME." },
          evidence = seen,
        }
      end
      if M.no_permission(s) then
        -- What can be seen without rights still helps the person: does anything listen on the port?
        local seen = ""
        if destination(ctx) then
          local ls = netstat.listeners(ctx.params.port)
          seen = #ls > 0 and string.format("; something listens on TCP %d, so it may well run", ctx.params.port)
            or string.format("; nothing listens on TCP %d (see the listener step)", ctx.params.port)
        end
        return M.unseen(ctx, "whether " .. s.name .. " runs", s.manager .. " says: " .. (s.access_error or "access denied"),
                        { evidence = s, advice = { "Its manager (" .. s.manager .. ") would not tell this user" .. seen .. "." } })
      end
      if not s.running and destination(ctx) then
        -- A service that cannot start because another program took its port: that is the cause.
        for _, l in ipairs(netstat.listeners(ctx.params.port)) do
          if not ours(ctx, l, opts, s) then
            return fail {
              summary = string.format("%s: TCP %d is held by %s, so it cannot listen", M.service_state(s),
                                      ctx.params.port, owner_text(l)),
              cause = "port-in-use",
              advice = { "Stop " .. owner_text(l) .. ", then start the " .. (opts.label or "service") .. ": "
                           .. (service.restart_command(s.name, manager_options(ctx, s)) or "restart it"),
                         "Or move the " .. (opts.label or "service") .. " to a free port (see the listen port step)." },
              evidence = { service = s, holder = l },
            }
          end
        end
      end
      if not s.running then
        return fail {
          summary = M.service_state(s),
          cause = "service-not-running",
          advice = { "Start it: " .. (service.restart_command(s.name, manager_options(ctx, s)) or "restart the service") },
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
        -- Seen without rights too: the socket table lists every listener, whoever owns it.
        return fail {
          summary = "nothing listens on TCP " .. port,
          cause = "no-listener",
          advice = { "Start the " .. (opts.label or "service") .. ", and check that it is set to listen on " .. port .. "." },
        }
      end
      local s = find_service(ctx, opts.names) or false
      local unknown
      for _, l in ipairs(ls) do
        local mine, why = M.identify(ctx, l, opts, s)
        if mine == false then
          return fail {
            summary = string.format("TCP %d is held by %s, not by the %s (%s)", port, owner_text(l), opts.label or "service", why),
            cause = "port-in-use",
            advice = { "Stop " .. owner_text(l) .. ", or move the " .. (opts.label or "service") .. " to a free port (see the listen port step)." },
            evidence = l,
          }
        end
        if mine == nil then unknown = unknown or { listener = l, why = why } end
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
        -- Forwards through a home router are IPv4: for the other computer, nothing listens.
        return fail {
          summary = "TCP " .. port .. " listens on IPv6 only (" .. ls[1]["local"].text .. "): nothing answers over IPv4, the way every connection through the router's forward comes",
          cause = "no-listener",
          advice = { "Set the " .. (opts.label or "service") .. " to listen on all addresses, IPv4 included (0.0.0.0, or :: with IPv6-only off), then restart it." },
          evidence = ls,
        }
      end
      if unknown and (unknown.listener.access == "no-permission" or (s and M.no_permission(s))) then
        return M.unseen(ctx, string.format("whether what listens on %s is the %s", unknown.listener["local"].text,
                                           opts.label or "service"), unknown.why,
                        { evidence = ls, advice = { "Or look yourself: " .. who_holds(ctx, port) } })
      end
      -- IPv4 only, while the other computer can come in only over IPv6: its name has only AAAA
      -- records (or it is an IPv6 address), or this computer has no IPv4 way out at all (IPv6-only).
      local v6 = false
      for _, l in ipairs(ls) do
        if l.scope ~= "loopback-only" and l.family == "ipv6" then v6 = true end
      end
      if not v6 then
        local host = peer(ctx)
        local why
        if host and is_numeric(host) and host:find(":") then
          why = "the other computer is " .. host .. ", an IPv6 address"
        elseif host and not is_numeric(host) then
          local r = socket.resolve(host)
          local has4, has6 = false, false
          for _, a in ipairs(r.addresses or {}) do
            if a:find(":") then has6 = true else has4 = true end
          end
          if has6 and not has4 then why = host .. " has only IPv6 addresses (AAAA records, no A)" end
        end
        if not why then
          local route = this_computer.default_route()
          if route.ipv4 == false and route.ipv6_gateway then
            why = "this computer has no IPv4 route, only IPv6"
          end
        end
        if why then
          return fail {
            summary = string.format("TCP %d listens on IPv4 only (%s), but %s: over IPv6 nothing answers", port,
                                    ls[1]["local"].text, why),
            cause = "listener-ipv4-only",
            advice = { "Set the " .. (opts.label or "service") .. " to listen on all addresses, IPv6 included (:: with IPv6-only off, or a second listener on ::), then restart it." },
            evidence = { listeners = ls, reason = why },
          }
        end
      end
      if unknown then
        return warn {
          summary = string.format("%s listens on %s, and cannot tell whether it is the %s: %s", owner_text(unknown.listener),
                                  unknown.listener["local"].text, opts.label or "service", unknown.why),
          advice = { "Give the service's name with --param service=NAME (or its program with --param program=NAME), or look yourself: "
                       .. who_holds(ctx, port) },
          evidence = ls,
        }
      end
      return pass { summary = string.format("%s listens on %s", owner_text(ls[1]), ls[1]["local"].text), evidence = ls }
    end,
  }
end

-- Does IPv6 matter for a connection coming in? This computer has a global IPv6 address (not
-- unique-local, usable) and something listens on the port over IPv6 (`::`, dual-stack or not).
-- Returns the global addresses (nil when IPv6 does not matter) and why.
local function ipv6_inbound_matters(ctx)
  local globals = {}
  for _, a in ipairs(this_computer.addresses("ipv6") or {}) do
    if a.scope == "global" and not a.unique_local and a.kind ~= "tentative" and a.kind ~= "dad-failed" then
      globals[#globals + 1] = a
    end
  end
  if #globals == 0 then return nil end
  for _, l in ipairs(netstat.listeners(ctx.params.port)) do
    if l.family == "ipv6" and l.scope ~= "loopback-only" then return globals end
  end
  return nil
end

-- The other computer's IPv6 address for firewall rules that name it: a numeric IPv6 peer, or its
-- name's first AAAA record. Also whether IPv6 is its only way (no IPv4 address at all).
local function peer_ipv6(host)
  if not host then return nil, false end
  if is_numeric(host) then return host:find(":") and host or nil, host:find(":") ~= nil end
  local r = socket.resolve(host)
  local v6, v4
  for _, a in ipairs(r.addresses or {}) do
    if a:find(":") then v6 = v6 or a else v4 = v4 or a end
  end
  return v6, v6 ~= nil and v4 == nil
end

local function blocked(v) return v.decision == "drop" or v.decision == "reject" end

-- The IPv6 verdict's neighbour discovery, when the firewall refuses it: over IPv6 the neighbour (the
-- router, or the other computer on the link) must find this computer's link address first, with
-- ICMPv6 neighbour solicitations and advertisements, as IPv4 does with ARP (which no firewall rule
-- of the input path sees, so IPv4 has nothing like it here).
local function nd_refused(v6)
  local nd = v6 and v6.neighbour_discovery
  if nd and blocked(nd) then return nd end
  return nil
end

local nd_advice = "Allow ICMPv6 types 133–137 (neighbour discovery: router and neighbour solicitations and advertisements, redirects) in"

function M.firewall(opts)
  opts = opts or {}
  return {
    title = "This computer's firewall lets the connection through",
    repairs = {
      ["open-port"] = {
        title = "Open the port in the firewall",
        changes = "adds a rule allowing the port (for IPv6 too, when this computer has a global IPv6 address, and ICMPv6 neighbour discovery where the firewall refuses it)",
        privileged = true,
        apply = function(ctx)
          local host, peer_port = peer(ctx)
          local inbound = destination(ctx)
          local ok, what = firewall.open { port = inbound and ctx.params.port or (peer_port or ctx.params.port),
                                           direction = inbound and "in" or "out",
                                           remote = peer_address(ctx, host), program = ctx.params.program }
          if not ok then return false, what end
          -- IPv6 has rules of its own (ip6tables, an nft ip6 table): opening IPv4 may leave it shut.
          if inbound and ipv6_inbound_matters(ctx) then
            local ok6, what6 = firewall.open { port = ctx.params.port, direction = "in", family = "ipv6",
                                               remote = (peer_ipv6(host)), program = ctx.params.program }
            if not ok6 then return false, "IPv6: " .. what6 end
          end
        end,
      },
    },
    run = function(ctx)
      local host, peer_port = peer(ctx)
      local inbound = destination(ctx)
      -- Inbound, the port this computer listens on; outbound, the other computer's (--peer HOST:PORT).
      local port = inbound and ctx.params.port or (peer_port or ctx.params.port)
      local dir = inbound and "incoming" or "outgoing"
      local v, v6, v6_only
      if inbound then
        -- IPv4 and IPv6 are asked separately: the IPv6 rules are separate (ip6tables, nft ip6 tables,
        -- inet rules that match one family). IPv6 is asked when the other computer has only IPv6, or
        -- when this computer can be reached over it. The IPv4 verdict stays the evidence's top
        -- level; the IPv6 one is under ipv6.
        local r6
        r6, v6_only = peer_ipv6(host)
        local r4 = peer_address(ctx, host)
        if r4 and r4:find(":") then r4 = nil end
        v = firewall.check { port = port, direction = "in", family = "ipv4", remote = r4, program = ctx.params.program }
        if v6_only or ipv6_inbound_matters(ctx) then
          v6 = firewall.check { port = port, direction = "in", family = "ipv6", remote = r6, program = ctx.params.program }
          v.ipv6 = v6
        end
      else
        v = firewall.check { port = port, direction = "out", remote = peer_address(ctx, host), program = ctx.params.program }
      end
      local unread = v.decision == "no-permission" and v or (v6 and v6.decision == "no-permission" and v6)
      if unread then
        -- The tool's own words are the reason; the note's "needs administrator rights" the summary says already.
        local words = unread.note and unread.note:match("%((%S+ says: .+)%)$") or unread.note
        return M.unseen(ctx, "what the firewall does with " .. dir .. " TCP " .. port, words, { evidence = v })
      end
      -- TCP allowed over IPv6, but neighbour discovery refused: over IPv6 nothing arrives at all
      -- (a refused solicitation), or connections start and stall later (a refused advertisement).
      local nd = nd_refused(v6)
      if nd and v6.decision ~= "no-permission" and not blocked(v6) and (v6_only or not blocked(v)) then
        local verb = nd.decision == "drop" and "drops" or "rejects"
        local by = v6.tool .. " (" .. (nd.rule or "?") .. ")"
        local advice = { nd_advice .. (nd.fix and (": " .. nd.fix) or (" in " .. v6.tool .. ".")) }
        if nd.packet == "neighbour-solicitation" then
          advice[#advice + 1] = "IPv6 needs these as IPv4 needs ARP: without them the router, or the other computer on the link, cannot find this computer's address, so nothing reaches it over IPv6"
            .. (v6.decision == "allow" and (", even though TCP " .. port .. " itself is allowed.") or ".")
          if not v6_only then
            advice[#advice + 1] = "Until then, the other computer gets in only over IPv4; over IPv6 (this computer's global address, or a name with an AAAA record) it cannot."
          end
          local rest = v6_only and ("; " .. host .. " has only IPv6 to come in on")
            or (v.decision == "allow" and ("; TCP " .. port .. " gets in over IPv4 only") or "")
          return (v6_only and fail or warn) {
            summary = string.format("nothing gets in over IPv6: the firewall %s ICMPv6 neighbour discovery (neighbour solicitations), by %s%s",
                                    verb, by, rest),
            cause = "firewall-blocks-inbound-ipv6",
            advice = advice, evidence = v, repairs = nd.fix and { "open-port" } or nil,
          }
        end
        advice[#advice + 1] = "Neighbour solicitations get in, so a connection over IPv6 starts; but this computer cannot ask for the neighbour's address again when it expires, so connections over IPv6 stall or break after a while."
        return warn {
          summary = string.format("connections over IPv6 may stall: the firewall %s ICMPv6 neighbour advertisements, by %s",
                                  verb, by),
          cause = "firewall-blocks-inbound-ipv6",
          advice = advice, evidence = v, repairs = nd.fix and { "open-port" } or nil,
        }
      end
      if v6 and not blocked(v) and blocked(v6) then
        local verb = v6.decision == "drop" and "dropped" or "rejected"
        local how = v6_only and fail or warn
        local advice = {
          "IPv6 has firewall rules of its own (ip6tables, or an nftables ip6 table, or an inet rule that matches only IPv4): allow TCP "
            .. port .. " for IPv6 as well: " .. (v6.fix or ("allow incoming TCP " .. port .. " over IPv6 in " .. v6.tool)),
        }
        if not v6_only then
          advice[#advice + 1] = "Until then, the other computer gets in only over IPv4 (through the router's forward); over IPv6 (this computer's global address, or a name with an AAAA record) it cannot."
        end
        return how {
          summary = string.format("incoming TCP %d is allowed over IPv4 but %s over IPv6 by %s (%s)%s", port, verb, v6.tool,
                                  v6.rule or "?", v6_only and ("; " .. host .. " has only IPv6 to come in on") or ""),
          cause = "firewall-blocks-inbound-ipv6",
          advice = advice, evidence = v, repairs = { "open-port" },
        }
      end
      -- The other computer has only IPv6: the IPv6 verdict is the one for this connection.
      if v6_only and not blocked(v6) then
        if v6.decision == "unknown" then
          return warn { summary = "cannot tell what the firewall does over IPv6 (the only way " .. host .. " comes in): " .. (v6.note or v6.tool), evidence = v }
        end
        return pass { summary = "incoming TCP " .. port .. " is allowed over IPv6, the way " .. host .. " comes in (" .. v6.tool .. ")", evidence = v }
      end
      if v.decision == "allow" then
        local over = ""
        if v6 and v6.decision == "allow" then over = " over IPv4 and IPv6" end
        local s = dir .. " TCP " .. port .. " is allowed" .. over .. " (" .. v.tool .. ")"
        if v6 and v6.decision == "unknown" then
          return warn { summary = s .. " over IPv4; cannot tell over IPv6: " .. (v6.note or v6.tool), evidence = v }
        end
        return pass { summary = s, evidence = v }
      end
      if v.decision == "unknown" then
        return warn { summary = "cannot tell what the firewall does: " .. (v.note or v.tool), evidence = v }
      end
      local advice = { v.fix or ("Allow " .. dir .. " TCP " .. port .. " in " .. v.tool .. ".") }
      if v6 and blocked(v6) and v6.fix and v6.fix ~= v.fix then
        advice[#advice + 1] = "And for IPv6 (its rules are separate): " .. v6.fix
      end
      if v6 and nd_refused(v6) then
        advice[#advice + 1] = "And over IPv6: " .. nd_advice .. (nd_refused(v6).fix and (": " .. nd_refused(v6).fix) or ".")
      end
      if v.tool:find("macOS") or v.tool:find("Windows") then
        advice[#advice + 1] = "An exception for the program can stop working after an upgrade; an exception for the port lasts."
      end
      advice[#advice + 1] = "Check the firewall on the other computer too."
      local over = ""
      if v6 then
        over = (blocked(v6) and " over IPv4 and IPv6")
          or (nd_refused(v6) and " over IPv4 (over IPv6 ICMPv6 neighbour discovery is refused)")
          or " over IPv4 (IPv6 is allowed)"
      end
      return fail {
        summary = string.format("%s TCP %d is %s%s by %s (%s)", dir, port, v.decision == "drop" and "dropped" or "rejected",
                                over, v.tool, v.rule or "?"),
        cause = inbound and "firewall-blocks-inbound" or "firewall-blocks-outbound",
        advice = advice, evidence = v, repairs = { "open-port" },
      }
    end,
  }
end

-- After a connect by name succeeded: the first of the name's addresses in the other family
-- (failed in the connect's own attempts, or not tried, then asked now). Returns nil when the
-- name has one family only, or both answer; else { failed_family, address, status, result }.
function M.other_family(host, port, r, timeout)
  if not host or is_numeric(host) or not r.remote then return nil end
  local used = r.remote.family or (r.remote.ip and r.remote.ip:find(":") and "ipv6" or "ipv4")
  for _, a in ipairs(r.attempts or {}) do
    local ip = a.remote and a.remote.ip
    if ip and a.status ~= "connected" and ((ip:find(":") ~= nil) ~= (used == "ipv6")) then
      return { failed_family = used == "ipv6" and "ipv4" or "ipv6", address = ip, status = a.status, result = a }
    end
  end
  local names = socket.resolve(host)
  for _, ip in ipairs(names.addresses or {}) do
    if (ip:find(":") ~= nil) ~= (used == "ipv6") then
      local o = socket.connect(ip, port, { timeout = timeout })
      if o.status == "connected" then return nil end
      return { failed_family = used == "ipv6" and "ipv4" or "ipv6", address = ip, status = o.status, result = o }
    end
  end
  return nil
end

-- An IPv6 address as its 8 groups (numbers), or nil when it is not one.
local function ipv6_groups(ip)
  ip = ip:lower():gsub("%%.*$", "")
  if not ip:find(":") then return nil end
  local head, tail = ip:match("^(.-)::(.*)$")
  local function split(part)
    local out = {}
    if part == "" then return out end
    for g in (part .. ":"):gmatch("([^:]*):") do
      local n = tonumber(g, 16)
      if not n or #g > 4 then return nil end
      out[#out + 1] = n
    end
    return out
  end
  local groups
  if head then
    local a, b = split(head), split(tail)
    if not a or not b or #a + #b > 7 then return nil end
    groups = a
    for _ = 1, 8 - #a - #b do groups[#groups + 1] = 0 end
    for _, g in ipairs(b) do groups[#groups + 1] = g end
  else
    groups = split(ip)
    if not groups or #groups ~= 8 then return nil end
  end
  return groups
end

-- Whether two IPv6 addresses share their first 64 bits (the network a home router hands out).
local function same_prefix64(a, b)
  local x, y = ipv6_groups(a), ipv6_groups(b)
  if not x or not y then return false end
  for i = 1, 4 do if x[i] ~= y[i] then return false end end
  return true
end

local function same_address(a, b)
  local x, y = ipv6_groups(a), ipv6_groups(b)
  if not x or not y then return false end
  for i = 1, 8 do if x[i] ~= y[i] then return false end end
  return true
end

-- The name the other computer uses for this one (--param public_name), against this computer's
-- IPv6 addresses: a name pointing at a temporary (privacy) or deprecated address stops working
-- when it rotates away; one pointing into this computer's network at an address it no longer
-- has already did.
function M.address(opts)
  opts = opts or {}
  return {
    title = "The name the other computer uses points at this computer's stable IPv6 address",
    run = function(ctx)
      if not destination(ctx) then return skip("not needed on the computer that sends (role=source)") end
      local name = ctx.params.public_name
      if not name or name == "" then
        return skip("no name given: with --param public_name=NAME (the name the other computer connects to) its IPv6 address is checked")
      end
      local r = socket.resolve(name)
      local aaaa = {}
      for _, a in ipairs(r.addresses or {}) do if a:find(":") then aaaa[#aaaa + 1] = a end end
      if #aaaa == 0 then
        return skip { summary = name .. " has no IPv6 address (AAAA record)" .. (r.status ~= "resolved" and (": " .. r.status) or ""), evidence = r }
      end
      local mine = this_computer.addresses("ipv6") or {}
      local stable = this_computer.stable_ipv6()
      local evidence = { name = name, resolved = r, addresses = mine, stable = stable }
      local advice_stable = stable
        and ("Point " .. name .. "'s AAAA record at " .. stable .. ", this computer's stable address (in a dynamic DNS client, choose the stable address, not the temporary one; `ip -6 addr` marks temporary ones).")
        or ("Point " .. name .. "'s AAAA record at a stable address of this computer (this computer has none now: turn on a stable, EUI-64 or stable-privacy, address).")
      for _, ip in ipairs(aaaa) do
        for _, a in ipairs(mine) do
          if same_address(ip, a.ip) and (a.kind == "temporary" or a.kind == "deprecated") then
            local what = a.kind == "temporary"
              and "a temporary (privacy) address of this computer: it is replaced within a day or so, and the name then points nowhere"
              or "a deprecated address of this computer: its lifetime is running out, and it will go away"
            return fail {
              summary = string.format("%s points at %s, %s", name, ip, what),
              cause = "ipv6-address-temporary", advice = { advice_stable }, evidence = evidence,
            }
          end
        end
      end
      for _, ip in ipairs(aaaa) do
        local ours, near = false, false
        for _, a in ipairs(mine) do
          if same_address(ip, a.ip) then ours = true end
          if a.scope == "global" and same_prefix64(ip, a.ip) then near = true end
        end
        if not ours and near then
          return fail {
            summary = string.format("%s points at %s, in this computer's network but no longer one of its addresses (a temporary address that rotated away, or an old one)", name, ip),
            cause = "ipv6-address-temporary", advice = { advice_stable }, evidence = evidence,
          }
        end
      end
      for _, ip in ipairs(aaaa) do
        for _, a in ipairs(mine) do
          if same_address(ip, a.ip) then
            return pass { summary = string.format("%s points at %s, a stable address of this computer", name, ip), evidence = evidence }
          end
        end
      end
      return warn {
        summary = string.format("%s points at %s, which is not in this computer's IPv6 network", name, table.concat(aaaa, ", ")),
        advice = { "If the other computer connects to " .. name .. " over IPv6, it reaches another computer: check the name's AAAA record." },
        evidence = evidence,
      }
    end,
  }
end

-- After the service port went unanswered: does the same address answer on the reflector's port
-- (`portdoctor listen`; --param reflector when it names the same host, else 4250)? Connected or
-- refused, the host itself answered: { port, status, rtt_ms }. Nil when it did not, or no other
-- port is known.
function M.control_connect(ctx, host, ip, port)
  local rhost, rport = reflector(ctx)
  if rhost ~= nil and rhost ~= host and rhost ~= ip then rport = REFLECTOR_PORT end
  if not rport or rport == port then return nil end
  -- Protected: a replay recorded before this question has no answer to it, and a run that
  -- cannot ask keeps what the first connect alone says.
  local ok, c = pcall(socket.connect, ip, rport, { timeout = 2 })
  if ok and type(c) == "table" and (c.status == "connected" or c.status == "refused") then
    return { port = rport, status = c.status, rtt_ms = c.rtt_ms }
  end
  return nil
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
        -- A name with both IPv4 and IPv6 addresses: both are asked, since an app may try either
        -- (and some wait long on the one that does not answer before trying the other).
        local other = M.other_family(host, port, r, opts.timeout or 3)
        if other then
          local fam = other.failed_family == "ipv6" and "IPv6" or "IPv4"
          local works = other.failed_family == "ipv6" and "IPv4" or "IPv6"
          return warn {
            summary = string.format("connected to %s over %s, but %s's %s address %s does not answer (%s)", r.remote.text,
                                    works, host, fam, other.address, other.status),
            cause = other.failed_family == "ipv6" and "peer-ipv6-unreachable" or "peer-ipv4-unreachable",
            advice = { string.format("The other computer's %s address %s does not answer on TCP %d: its firewall or router lets only %s in, or the name's %s record is out of date. Fix that side, or remove the %s record from %s.",
                                     fam, other.address, port, works, other.failed_family == "ipv6" and "AAAA" or "A", other.failed_family == "ipv6" and "AAAA" or "A", host) },
            evidence = { connect = r, other = other.result }, next = opts.on_success,
          }
        end
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
        ["dns-temporary"] = "The name " .. host .. " could not be looked up: no DNS server answered. Check this computer's network connection and DNS settings, or use the other computer's address.",
      }
      -- No way out of this computer at all: that is the cause, not the other computer.
      local tried_ip = (r.remote and r.remote.ip) or (r.attempts and r.attempts[1] and r.attempts[1].remote and r.attempts[1].remote.ip)
      if r.status == "net-unreachable" and tried_ip and not private_address(tried_ip) then
        local route = this_computer.default_route()
        local v6 = tried_ip:find(":") ~= nil
        if (not v6 and route.ipv4 == false) or (v6 and route.ipv6_gateway == nil and route.ipv4 == false) then
          return fail {
            summary = string.format("could not connect to %s: this computer has no default route", hostport(host, port)),
            cause = "no-default-route",
            advice = { "This computer has no way out of its own network (no default route): check its network settings (DHCP, or the gateway's address), or its cable or Wi-Fi." },
            evidence = { connect = r, route = route }, next = opts.on_failure,
          }
        end
      end
      -- Refused or unanswered may be this computer's own firewall (a reject or drop of outgoing
      -- TCP): when its rules cannot be read without rights, the other computer is not blamed.
      if r.status == "refused" or r.status == "timeout" or r.status == "host-unreachable" then
        local v = firewall.check { port = port, direction = "out", remote = tried_ip }
        if v.decision == "no-permission" then
          return M.unseen(ctx, string.format("why the connection to %s was %s: this computer's own firewall may stop it",
                                             hostport(host, port), r.status == "timeout" and "not answered" or r.status),
                          v.note, { evidence = { connect = r, firewall = v }, next = opts.on_failure,
                                    advice = { advice[r.status] or ("Check that " .. host .. " is on and reachable from here.") } })
        end
        -- The connect never left this computer: its own firewall's refusal or silence is no sign of
        -- the other computer (nothing listening there, or a filter on the way), so none is named.
        if v.decision == "drop" or v.decision == "reject" then
          return fail {
            summary = string.format("could not connect to %s (%s): this computer's firewall %s outgoing TCP %d (%s, %s)",
                                    hostport(host, port), r.status, v.decision == "drop" and "drops" or "rejects",
                                    port, v.tool, v.rule or "?"),
            cause = "firewall-blocks-outbound",
            advice = { v.fix or ("Allow outgoing TCP " .. port .. " in " .. v.tool .. "."),
                       "Then run portdoctor again: the other computer could not be tested until the connection leaves this one." },
            evidence = { connect = r, firewall = v }, next = opts.on_failure,
          }
        end
      end
      -- Silence from an address on a local network is no router's doing: no forward is involved there.
      local tried = r.remote or (r.attempts and r.attempts[1] and r.attempts[1].remote)
      -- Silence on the service port while the same address answers on another (the reflector's,
      -- where portdoctor listen runs): the other computer is on and reachable, and something drops
      -- this port only. Asked only after a timeout, once, briefly.
      local control = r.status == "timeout" and tried and M.control_connect(ctx, host, tried.ip, port)
      if control and private_address(tried.ip) then
        return fail {
          summary = string.format("could not connect to %s (no answer), but %s answers on TCP %d (%s): the other computer is on and reachable, and something there drops TCP %d — most likely its firewall",
                                  hostport(host, port), tried.ip, control.port, control.status, port),
          cause = "firewall-blocks-inbound",
          advice = { string.format("Check the other computer's firewall for incoming TCP %d: allow it (its own firewall, or a filter in front of that port only).", port) },
          evidence = { connect = r, control = control }, next = opts.on_failure,
        }
      elseif control then
        advice.timeout = string.format("Nothing answered on TCP %d, but %s answers on TCP %d: the other side is up. Check that the router in front of it forwards %d, and the other computer's firewall for incoming TCP %d.",
                                       port, tried.ip, control.port, port, port)
      end
      if r.status == "timeout" and tried and private_address(tried.ip) then
        causes.timeout = "peer-unreachable"
        advice.timeout = "Nothing answered from " .. tried.ip .. ", an address on a local network: the other computer is off or asleep, has another address now, or its firewall drops TCP " .. port .. "."
      end
      return fail {
        summary = string.format("could not connect to %s: %s", hostport(host, port), r.status),
        cause = causes[r.status] or "peer-unreachable",
        advice = { advice[r.status] or ("Check that " .. host .. " is on and reachable from here.") },
        evidence = r, next = opts.on_failure,
      }
    end,
  }
end

-- opts: needs, after, rules (a ruleset from require("tcp-service:nat").ruleset(): the NAT/forward rules
-- this step decides with; by default the bundled ones).
function M.port_forward(opts)
  opts = opts or {}
  return {
    title = "The router forwards the port to this computer",
    needs = opts.needs,
    -- Not needs: a fault here must not hide one on the router (the router's table and an outcome
    -- the local fault does not explain are evidence of their own); their results are consulted.
    after = opts.after,
    repairs = {
      ["add-forward"] = {
        title = "Ask the router to forward the port (UPnP)",
        changes = "adds a port mapping on the router",
        apply = function(ctx)
          -- The run's discovery, asked once: the survey (and vendor selection) already waited for it.
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
      local rhost, rport = reflector(ctx)
      -- The survey observes; the NAT rules (lib/nat.lua, or the ones an overlay gave) decide.
      local e = portforward.survey(ctx.params.port, { reflector = rhost, reflector_port = rport })
      -- What the steps here found, for the rules: a connect-back refused by this computer says
      -- nothing about the router.
      -- A firewall step that could not read the rules is "no-permission": a failed connect-back may
      -- be this computer's firewall as much as the router.
      local unseen
      for _, id in ipairs { "service", "listener", "firewall" } do
        local r = ctx.results and ctx.results[id]
        if r then
          e.steps = e.steps or {}
          e.steps[id] = r.status
          if id == "firewall" and r.status == "warn" and M.no_permission(r.evidence) then
            e.steps[id] = "no-permission"
            unseen = id
          end
        end
      end
      -- A reflector with only an IPv6 address was asked over IPv6: nothing is forwarded there, and
      -- a connect-back it could not make is the router's IPv6 firewall (the pinhole step's question).
      local at = e.reflector_address
      if at and select(2, at:gsub(":", "")) > 1 then
        return skip { summary = "the reflector " .. hostport(rhost, rport) .. " has only an IPv6 address (" .. at
                        .. "): over IPv6 the router forwards nothing, the pinhole step tests the way in", evidence = e }
      end
      local v = (opts.rules or require("tcp-service:nat").rules):decide(e)
      -- Which reflector answered (or did not) is part of the finding: a person may have several.
      local asked = ""
      if rhost then
        local at = e.reflector_address
        asked = string.format(" (asked the reflector at %s%s)", hostport(rhost, rport),
                              (at and not is_numeric(rhost)) and (", " .. at) or "")
      end
      local notes = (v.notes and #v.notes > 0) and (" — note: " .. table.concat(v.notes, "; ")) or ""
      if v.status == "pass" then
        return pass { summary = v.explanation .. asked .. notes, advice = v.notes, evidence = e }
      end
      if v.status == "skip" and unseen then
        -- Said as a warning: the person can make this step decide, with rights.
        return M.unseen(ctx, "whether the router forwards the port", v.explanation .. asked, { evidence = e })
      end
      if v.status == "skip" then
        return skip { summary = v.explanation .. asked, advice = v.advice or { "On the other computer run: portdoctor listen" },
                      evidence = e }
      end
      if v.kind == "peer-unresolvable" then
        return fail {
          summary = v.explanation, cause = v.cause, evidence = e,
          advice = { "Check the name " .. rhost .. " (is it spelt right, does this computer's DNS know it?), or give the other computer's address: "
                       .. (ctx.params.reflector and "--param reflector=ADDRESS" or "--peer ADDRESS") },
        }
      end
      local advice = { v.explanation }
      for _, a in ipairs(v.advice or {}) do advice[#advice + 1] = a end
      -- Only where the failed test from outside counts: no route, CGNAT or a bad name are not the firewall's.
      local about_router = v.kind ~= "no-default-route" and v.kind ~= "cgnat" and v.kind ~= "peer-unresolvable"
      if unseen and about_router then
        advice[#advice + 1] = "The " .. unseen .. " step could not be read without administrator rights: " .. M.sudo_hint(ctx) .. "."
      end
      if e.gateway and e.gateway.manufacturer then
        advice[#advice + 1] = "Your router (" .. e.gateway.manufacturer .. ") can forward it in its admin page; forward TCP " .. ctx.params.port .. " to this computer."
      end
      -- Behind the provider's NAT (CGNAT, DS-Lite) IPv4 cannot come in, but a line with IPv6 can:
      -- this computer's global address needs a pinhole, and the service must listen on IPv6.
      -- When the pinhole step proved that way in open, whether IPv4's absence matters depends on the
      -- other computer having IPv6 (lib/pinhole.lua decides).
      local six = v.cause == "cgnat" and require("tcp-service:pinhole").carrier_nat(ctx, v.explanation)
      if six then
        e.ipv6 = six.evidence
        if six.status == "pass" then return pass { summary = six.summary .. asked, advice = six.advice, evidence = e } end
        local more = six.advice
        if six.status == "fail" then for _, a in ipairs(v.advice or {}) do more[#more + 1] = a end end
        local result = six.status == "warn" and warn or fail
        return result { summary = six.summary .. asked, cause = v.cause, advice = more, evidence = e }
      end
      if v.cause == "cgnat" then
        local stable = this_computer.stable_ipv6()
        if stable then
          local v6 = false
          for _, l in ipairs(netstat.listeners(ctx.params.port)) do
            if l.family == "ipv6" and l.scope ~= "loopback-only" then v6 = true end
          end
          e.ipv6 = { stable = stable, listens = v6 }
          advice[#advice + 1] = string.format(
            "This computer has a global IPv6 address (%s): over IPv6 nothing is translated, so the other computer can come in there. Open a pinhole for TCP %d to %s on the router (its IPv6 firewall page, or: portdoctor probe pcp --map %d --ipv6) and give the other computer that address (or a name whose AAAA record is it).",
            stable, ctx.params.port, stable, ctx.params.port)
          if not v6 then
            advice[#advice + 1] = "The service listens on IPv4 only: set it to listen on IPv6 too (::), or nothing answers there."
          end
        end
      end
      -- Where the NAT rules place the fault, when not in front of this computer: a paired
      -- diagnosis then names the other computer to fix ("other-end"), or neither ("between").
      if v.at then e.filtered_at = v.at end
      local result = v.status == "warn" and warn or fail
      return result {
        summary = v.explanation .. asked .. notes, cause = v.cause, advice = advice, evidence = e,
        repairs = v.repair and { v.repair } or nil,
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
      if b.status == "free" then
        return pass { summary = string.format("TCP %d is free (the service can listen on it)", port), evidence = b }
      end
      if b.status == "denied" then
        return M.unseen(ctx, string.format("whether TCP %d is free", port),
                        "this computer denied the test: " .. (b.error or "denied"), { evidence = b })
      end
      if b.status ~= "in-use" then
        return warn {
          summary = string.format("cannot tell whether TCP %d is free: the test failed (%s)", port, b.error or b.status),
          advice = { "See who listens on it yourself: " .. who_holds(ctx, port) },
          evidence = b,
        }
      end
      local unknown = #b.holders == 0
      local s = find_service(ctx, opts.names) or false
      for _, h in ipairs(b.holders) do
        local mine = M.identify(ctx, h, opts, s)
        if mine == nil then unknown = true end
        if mine == false then
          local suggestion
          for candidate = low + 3000, high do
            if socket.bind_test(candidate).status == "free" and #netstat.listeners(candidate) == 0 then suggestion = candidate break end
          end
          return fail {
            summary = string.format("TCP %d is taken by %s", port, owner_text(h)), cause = "port-in-use",
            advice = { suggestion and ("Choose another listen port, for example " .. suggestion .. " (free), in the app's settings.") or "Choose another listen port.",
                       "Forward the new port on your router too." },
            evidence = b,
          }
        end
      end
      local hidden = false
      for _, h in ipairs(b.holders) do if h.access == "no-permission" then hidden = true end end
      if unknown and hidden then
        return M.unseen(ctx, string.format("which program holds TCP %d", port), "it is another user's program",
                        { evidence = b, advice = { "Or look yourself: " .. who_holds(ctx, port) } })
      end
      if unknown then
        return warn {
          summary = string.format("TCP %d is in use, and this computer does not say by which program", port),
          advice = { "Run portdoctor again with sudo to see who holds it, or look yourself: " .. who_holds(ctx, port) },
          evidence = b,
        }
      end
      local holder = owner_text(b.holders[1])
      return pass { summary = string.format("TCP %d is used by the service itself, %s", port, holder), evidence = b }
    end,
  }
end

-- Step 5 of the CrashPlan guide: when the connection works but the app does not, restart the
-- service. What calls for a restart here: the service runs but nothing listens on its port (stuck),
-- or it started moments ago (still starting, or restarted over and over by its manager).
-- opts: label, names (per platform), app (the app's name for the advice), needs, settle (seconds).
function M.restart_service(opts)
  opts = opts or {}
  local label = opts.label or "service"
  local settle = opts.settle or 30
  return {
    title = "Restart the " .. label .. " if the app still cannot connect",
    needs = opts.needs,
    repairs = { restart = restart_repair(opts) },
    run = function(ctx)
      local s = find_service(ctx, opts.names)
      if s and M.no_permission(s) then
        return skip("cannot tell whether the " .. label .. " runs without administrator rights (see the service step): "
                    .. M.sudo_hint(ctx))
      end
      if not s then
        -- It may run all the same, by hand or under another name (the service step says which).
        return skip("no service manager has the " .. label .. " under the names looked for: give its name with --param service=NAME to have it restarted")
      end
      if not s.running then
        return skip("the " .. label .. " is not running now: the service step says why")
      end
      local restart = service.restart_command(s.name, manager_options(ctx, s)) or ("restart the " .. label)
      local evidence = { service = s }
      local young = s.seconds and s.seconds < settle
      local since = s.seconds and (" for " .. text.uptime(s.seconds)) or ""
      if destination(ctx) then
        local port = ctx.params.port
        local ls = netstat.listeners(port)
        evidence.listeners = ls
        for _, l in ipairs(ls) do
          if M.identify(ctx, l, opts, s) == false then
            return skip(string.format("TCP %d is held by %s: restart the %s once that is fixed (see the listener step)",
                                      port, owner_text(l), label))
          end
        end
        if #ls == 0 and young then
          return warn {
            summary = string.format("%s has run only%s and does not listen on TCP %d yet: it may still be starting, or be restarting over and over",
                                    s.name, since, port),
            advice = { "Run portdoctor again in a minute. If the service has again run only a few seconds, it keeps failing: look at its log." },
            evidence = evidence,
          }
        end
        if #ls == 0 then
          return fail {
            summary = string.format("%s has run%s (pid %s) but nothing listens on TCP %d: it is stuck", s.name, since, tostring(s.pid), port),
            cause = "no-listener",
            advice = { "Restart it: " .. restart, "If it still does not listen, check the port in the app's settings." },
            evidence = evidence, repairs = { "restart" },
          }
        end
      elseif young then
        return warn {
          summary = string.format("%s has run only%s: it may still be starting, or be restarting over and over", s.name, since),
          advice = { "Run portdoctor again in a minute. If the service has again run only a few seconds, it keeps failing: look at its log." },
          evidence = evidence,
        }
      end
      local listening = destination(ctx) and (", and something listens on TCP " .. ctx.params.port) or ""
      return pass {
        summary = string.format("%s has run%s (pid %s)%s; if %s still cannot connect, restart it", s.name, since,
                                tostring(s.pid), listening, opts.app or "the app"),
        advice = { "Restart the " .. label .. " (on both computers), then try again: " .. restart },
        evidence = evidence,
      }
    end,
  }
end

-- A router vendor overlay's port-forward step: the shared one, with the vendor's own way to set up
-- the forward in place of the generic advice, and the vendor's own check once the forward works.
-- vendor = { name =, forward_steps = function(ctx) -> { step, … }, check = function(ctx, result) -> result? }
-- vendor.rules: a ruleset (require("tcp-service:nat").ruleset()) with the vendor's own NAT rules.
function M.vendor_port_forward(vendor)
  local def = M.port_forward { after = vendor.after or { "listener", "firewall", "pinhole" }, rules = vendor.rules }
  def.title = "The " .. vendor.name .. " router forwards the port to this computer"
  local shared = def.run
  def.run = function(ctx)
    local r = shared(ctx)
    -- A reflector name that does not resolve is not the router's doing: its own advice stands.
    if r.status == "fail" and r.cause ~= "peer-unresolvable" then
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

-- The source's own router drops the service port going out, from pairing.paths().trace (the same
-- connect traced hop by hop on the service port and on the pairing port, which got through): the
-- service port's TTL-1 probe was answered by the first router (not the destination's address) and no
-- later one by anyone, while the pairing port's TTL-2 probe was answered by a router past it that
-- does not hold the destination's address either (a router past the destination's public address
-- would be the destination's side: a forward missing there stops the service port the same way).
-- A router sends "time exceeded" before its forward filter looks at the port, so the second router
-- answers for any port that reaches it: silence there for the service port means the first one
-- dropped it. Returns { router =, next = } or nil.
function M.dropped_going_out(t)
  if type(t) ~= "table" or type(t.hops) ~= "table" or type(t.control) ~= "table" then return nil end
  local function at(hops, ttl)
    for _, h in ipairs(hops) do if h.ttl == ttl then return h end end
  end
  local first, next = at(t.hops, 1), at(t.control, 2)
  if not (first and first.status == "time-exceeded" and first.from and first.from ~= t.address) then return nil end
  if not (next and next.status == "time-exceeded" and next.from and next.from ~= t.address and next.from ~= first.from) then return nil end
  local control_first = at(t.control, 1)
  if control_first and control_first.from ~= first.from then return nil end
  for _, h in ipairs(t.hops) do
    if h.ttl >= 2 and h.status ~= "timeout" then return nil end
  end
  return { router = first.from, next = next.from }
end

-- A paired run (`run --with`) tested the destination's port from the source over each family and
-- path: its own address on the LAN, its router's public address. What a failing one means is
-- decided here: the connects only observe. `fix` in the evidence names the computer to fix.
function M.paths(opts)
  opts = opts or {}
  return {
    title = "Every address and family between the two computers",
    next = opts.next,
    run = function(ctx)
      local p = pairing.paths()
      if not p then return skip("not a paired run: run --with the other computer tests every address and family between them") end
      local tests = p.tests
      if #tests == 0 then
        return skip { summary = "no address of the destination could be tested" .. (#p.notes > 0 and (": " .. table.concat(p.notes, "; ")) or ""),
                      evidence = { tests = tests, notes = p.notes } }
      end
      local function label(t) return string.format("%s %s (%s, %s)", t.family == "ipv6" and "IPv6" or "IPv4", t.address, t.via, t.outcome) end
      local works, fails = {}, {}
      for _, t in ipairs(tests) do
        if t.outcome == "connected" then works[#works + 1] = t else fails[#fails + 1] = t end
      end
      local all = {}
      for _, t in ipairs(tests) do all[#all + 1] = label(t) end
      local evidence = { tests = tests, notes = p.notes }
      if #fails == 0 then
        return pass { summary = "the source connects to the destination over every address tested: " .. table.concat(all, ", "), evidence = evidence }
      end
      if #works == 0 then
        local dropped = M.dropped_going_out(p.trace)
        if dropped then
          -- This computer's own router answered for the service port and nothing past it did, while the
          -- pairing port got past the next router: that router never saw the service port.
          evidence.trace = p.trace
          evidence.fix = "source"
          evidence.stopped_at = "source-router"
          local t = p.trace
          return fail {
            summary = string.format("the source's connect to %s never gets past its own router %s: traced hop by hop, TCP %d stops there while TCP %d (the pairing port) gets on to %s",
                                    hostport(t.address, t.port), dropped.router, t.port, t.control_port, dropped.next),
            cause = "filtered-upstream",
            advice = { string.format("On the source's router (%s), let TCP %d out: its firewall, parental control or \"security\" filter blocks it going out.",
                                     dropped.router, t.port) },
            evidence = evidence,
          }
        end
        -- Nothing connects: the checks on each computer (service, listener, firewall, forward) say why.
        return warn { summary = "no address of the destination connects: " .. table.concat(all, ", "), evidence = evidence }
      end
      local function any(list, key, value)
        for _, t in ipairs(list) do if t[key] == value then return t end end
      end
      local port = tests[1].port
      -- From outside, the destination's own address fails and its router's public one works: as it
      -- should be (the forward works; a LAN address is not reachable from another network).
      local only_lan = true
      for _, t in ipairs(fails) do
        if t.via ~= "lan" or not any(works, "via", "public") or not any(works, "family", t.family) then only_lan = false end
      end
      if only_lan then
        return pass { summary = "the source connects to the destination through its router's public address; its own address is not reachable from the source's network, as expected: " .. table.concat(all, ", "),
                      evidence = evidence }
      end
      evidence.fix = "destination"
      -- One family works on some address, the other on none: that family's firewall or pinhole.
      for _, fam in ipairs({ "ipv6", "ipv4" }) do
        local other = fam == "ipv6" and "ipv4" or "ipv6"
        local bad = any(fails, "family", fam)
        if bad and not any(works, "family", fam) and any(works, "family", other) then
          local name, good = fam == "ipv6" and "IPv6" or "IPv4", fam == "ipv6" and "IPv4" or "IPv6"
          evidence.family = fam
          local refused = bad.outcome == "refused"
          -- Refused: the packet got there and was turned away, by a computer with no listener on that
          -- family or by a reject rule. Not a drop: an app that tries both families goes on to the one
          -- that works at once, so it is a warning. On the destination its own sockets tell which.
          if refused then
            local at = hostport(bad.address, port)
            if not destination(ctx) then
              return warn {
                summary = string.format("the source connects to the destination over %s, but over %s %s is refused: nothing listens there over %s, or a firewall rejects it (the destination's own check tells which)",
                                        good, name, at, name),
                advice = { string.format("Apps that try %s first go on to %s at once; to use %s too, see the destination's check.", name, good, name) },
                evidence = evidence,
              }
            end
            local ls = netstat.listeners(port)
            local listens = false
            for _, l in ipairs(ls) do
              local reachable = l.scope ~= "loopback-only"
              if reachable and (l.family == fam or (fam == "ipv4" and l.family == "ipv6" and l.scope == "wildcard" and l.dual_stack)) then
                listens = true
              end
            end
            evidence.listeners = ls
            if not listens then
              local where = {}
              for _, l in ipairs(ls) do where[#where + 1] = l["local"].text end
              return warn {
                summary = string.format("the source connects over %s, but %s is refused over %s: TCP %d listens on %s only (%s)",
                                        good, at, name, port, good, table.concat(where, ", ")),
                cause = fam == "ipv6" and "listener-ipv4-only" or "no-listener",
                advice = { string.format("Only if the other computer should connect over %s: set the %s to listen on %s too (%s), then restart it. Over %s it works as it is.",
                                         name, opts.label or "service", name, fam == "ipv6" and ":: with IPv6-only off, or a second listener on ::" or "0.0.0.0, or :: with IPv6-only off", good) },
                evidence = evidence,
              }
            end
            return warn {
              summary = string.format("the source connects over %s, but %s is refused over %s although TCP %d listens there: a firewall rejects it",
                                      good, at, name, port),
              cause = fam == "ipv6" and "firewall-blocks-inbound-ipv6" or "firewall-blocks-inbound",
              advice = { string.format("On the destination, let TCP %d in over %s as it is over %s (its firewall's %s rules%s).", port, name, good, name,
                                       fam == "ipv6" and ": ip6tables, or nft's inet/ip6 tables" or "") },
              evidence = evidence,
            }
          end
          return fail {
            summary = string.format("the source connects to the destination over %s, but not over %s: %s %s", good, name,
                                    refused and "refused at" or "no answer from", hostport(bad.address, port)),
            cause = fam == "ipv6" and "firewall-blocks-inbound-ipv6" or "firewall-blocks-inbound",
            advice = { fam == "ipv6"
                         and string.format("On the destination, let TCP %d in over IPv6 as it is over IPv4: its firewall's IPv6 rules (ip6tables, nft's inet/ip6 tables), and — behind a router — the router's IPv6 pinhole to %s. Or make the source use IPv4 only (its name's A record).",
                                           port, bad.address)
                         or string.format("On the destination, let TCP %d in over IPv4 as it is over IPv6: its firewall's IPv4 rules (iptables, nft's inet/ip tables), and — behind a router — the router's forward to %s. Or make the source use IPv6 only (its name's AAAA record).",
                                           port, bad.address) },
            evidence = evidence,
          }
        end
      end
      -- The destination's own address works, its router's public address does not: the router.
      local lan, public = any(works, "via", "lan"), any(fails, "via", "public")
      if lan and public and not any(works, "via", "public") then
        evidence.family = public.family
        return fail {
          summary = string.format("the source connects to the destination on its own address %s, but not through the router's public address %s (%s): the router does not forward TCP %d to it%s",
                                  lan.address, public.address, public.outcome, port,
                                  public.how == "connect" and ", or does not loop connections from inside back in (hairpin NAT)" or ""),
          cause = "port-forward-missing",
          advice = { string.format("On the router in front of the destination, forward TCP %d to the destination's address %s. From inside the same network, connect to %s directly (the router may not loop its public address back in: hairpin NAT).",
                                   port, lan.address, lan.address) },
          evidence = evidence,
        }
      end
      local bad = fails[1]
      evidence.family = bad.family
      return warn {
        summary = string.format("some addresses of the destination connect, %s does not: %s", label(bad), table.concat(all, ", ")),
        evidence = evidence,
      }
    end,
  }
end

return M
