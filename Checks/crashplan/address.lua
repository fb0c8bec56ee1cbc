-- The shared step, see tcp-service's lib/steps.lua: the name the other computer uses, against this
-- computer's IPv6 addresses (temporary and deprecated ones rotate away).
return check(require("tcp-service:steps").address())
