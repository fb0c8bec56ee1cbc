-- Step 5 of the guide: after changing the forward, or when the connection works but the app does
-- not, restart the backup service. The service step offers the restart as a repair.
local app = require("app")

return check {
  title = "Restart the backup service if the app still cannot connect",
  needs = { "service" },
  run = function(ctx)
    local s = ctx.results.service
    return pass {
      summary = "the backup service runs; if " .. app.name .. " still cannot connect, restart it",
      advice = { "Restart the backup service (on both computers), then try again." },
    }
  end,
}
