-- The shared step, see lib/steps.lua.
return check(require("tcp-service:steps").service())
