-- Step 1 of the guide is something only the person can do, inside the app; it comes last here,
-- once the checks a program can do have passed.
local app = require("app")

return check {
  title = "Re-authenticate with the destination",
  run = function(ctx)
    return skip {
      summary = "A step only you can do: if " .. app.name .. " still cannot connect after the checks above, "
        .. "re-authenticate from inside the app.",
      cause = "manual-step",
      advice = {
        "Open the " .. app.name .. " app.",
        "Double-click the logo in the upper-right corner to open the command line.",
        "Type  ra, restart  and press Enter.",
        "Open the app again once it has restarted.",
      },
    }
  end,
}
