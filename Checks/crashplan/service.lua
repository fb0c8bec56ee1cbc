local app = require("app")
return check(require("tcp-service:steps").service { label = "backup service", names = app.services,
                                                      programs = app.programs })
