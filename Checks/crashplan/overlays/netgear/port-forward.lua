local function forward_steps(ctx)
  local p = ctx.params.port
  return {
    "Open http://routerlogin.net → ADVANCED → Advanced Setup → Port Forwarding / Port Triggering.",
    "Choose Port Forwarding (not Port Triggering: a trigger opens the port only after this computer connects out, "
      .. "so the other computer's backups cannot start) → Add Custom Service: TCP, external and internal port " .. p
      .. ", internal IP address this computer → Apply.",
    "Reserve this computer's address (ADVANCED → Setup → LAN Setup → Address Reservation) so the forward keeps pointing at it.",
  }
end

return check(require("tcp-service:steps").vendor_port_forward { name = "NETGEAR", forward_steps = forward_steps })
