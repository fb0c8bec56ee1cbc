-- The way in over IPv6 (tcp-service's lib/pinhole.lua): after the steps whose faults explain a
-- failed connect-back first.
return check(require("tcp-service:pinhole").step { after = { "listener", "firewall" } })
