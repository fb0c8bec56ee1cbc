-- The way in over IPv6 (lib/pinhole.lua): after the steps whose faults explain a failed
-- connect-back first, and after the IPv4 port forward (whether the other computer still has a way in).
return check(require("tcp-service:pinhole").step { after = { "listener", "firewall", "port-forward" } })
