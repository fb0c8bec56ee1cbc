local function forward_steps(ctx)
  local p = ctx.params.port
  return {
    "In LuCI: Network → Firewall → Port Forwards → Add: protocol TCP, source zone wan, external port " .. p
      .. ", destination zone lan, internal IP address this computer, internal port " .. p .. "; then Save & Apply.",
    "Or over ssh: uci add firewall redirect; uci set firewall.@redirect[-1].name=crashplan; "
      .. "uci set firewall.@redirect[-1].src=wan; uci set firewall.@redirect[-1].src_dport=" .. p .. "; "
      .. "uci set firewall.@redirect[-1].dest=lan; uci set firewall.@redirect[-1].dest_ip=THIS_COMPUTER; "
      .. "uci set firewall.@redirect[-1].proto=tcp; uci set firewall.@redirect[-1].target=DNAT; "
      .. "uci commit firewall; /etc/init.d/firewall reload",
    "Give this computer a fixed address too (Network → DHCP and DNS → Static Leases), so the forward keeps pointing at it.",
  }
end

-- OpenWrt's miniupnpd keeps UPnP forwards in memory only, and its default ruleset cleaning
-- (clean_ruleset_interval) removes forwards that carried no traffic: fine for a game, not for
-- backups that run at night.
local function upnp_made(ctx, result)
  local g = upnp.discover(1)[1]
  if not g then return nil end
  local m = upnp.mapping(g, ctx.params.port)
  if not m or not m.enabled then return nil end
  return warn {
    summary = result.summary .. ", through a UPnP forward (" .. (m.description ~= "" and m.description or "no name")
      .. (m.lease > 0 and (", expires in " .. m.lease .. " s") or "") .. ")",
    advice = {
      "OpenWrt forgets UPnP forwards when it restarts, and may remove unused ones: add a permanent forward.",
      forward_steps(ctx)[1],
    },
    evidence = { mapping = m, survey = result.evidence },
  }
end

return check(require("tcp-service:steps").vendor_port_forward { name = "OpenWrt", forward_steps = forward_steps, check = upnp_made })
