-- The shared step, see lib/steps.lua; after the service step, so that a restart (--fix) is seen here too.
return check(require("tcp-service:steps").listener { needs = { "service" } })
