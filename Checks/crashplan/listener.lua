-- After the service step, so that a restart (--fix) is seen here too.
local app = require("app")
return check(require("tcp-service:steps").listener { label = "backup service", needs = { "service" },
                                                            names = app.services, programs = app.programs })
