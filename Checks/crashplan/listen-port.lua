-- Step 6: several computers behind one router need a listen port each, between 1024 and 5999.
local app = require("app")
return check(require("tcp-service:steps").listen_port { low = 1024, high = 5999, names = app.services,
                                                               programs = app.programs })
