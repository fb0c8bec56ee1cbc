-- The outside can only get in once the listener and the firewall here let it: the step runs after
-- them and does not blame the router for a connect-back that their fault explains. After the pinhole step too: behind the provider's NAT, the way
-- in over IPv6 it proved decides whether IPv4's absence matters.
return check(require("tcp-service:steps").port_forward { after = { "listener", "firewall", "pinhole" } })
