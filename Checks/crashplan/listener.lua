-- After the service step, so that a restart (--fix) is seen here too.
return check(require("tcp-service:steps").listener { label = "backup service", needs = { "service" } })
