-- The outside can only get in once the listener and the firewall here let it: otherwise a refused
-- or unanswered connect-back would blame the router.
return check(require("tcp-service:steps").port_forward { needs = { "listener", "firewall" } })
