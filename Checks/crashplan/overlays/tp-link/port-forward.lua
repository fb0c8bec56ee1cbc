local function forward_steps(ctx)
  local p = ctx.params.port
  return {
    "Open http://tplinkwifi.net → Advanced → NAT Forwarding → Virtual Servers → Add: service name CrashPlan, external port "
      .. p .. ", internal IP this computer, internal port " .. p .. ", protocol TCP → Save.",
    "On a Deco mesh, the Deco app: More → Advanced → NAT Forwarding → Port Forwarding.",
    "Reserve this computer's address (Advanced → Network → DHCP Server → Address Reservation) so the forward keeps pointing at it.",
  }
end

return check(require("tcp-service:steps").vendor_port_forward { name = "TP-Link", forward_steps = forward_steps })
