-- Step 5 of the guide: after changing the forward, or when the connection works but the app does
-- not, restart the backup service. The check looks for what calls for a restart (a service that
-- runs but does not listen, or one that keeps restarting) and offers the restart as a repair.
local app = require("app")

return check(require("tcp-service:steps").restart_service {
  label = "backup service", names = app.services, programs = app.programs, app = app.name, needs = { "service" },
})
