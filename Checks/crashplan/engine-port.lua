-- "Unable to connect to the backup engine" is rarely the network: another program on the app's ports.
local app = require("app")

return check {
  title = "The app's own port (" .. app.ports.engine .. ") is free for the backup service",
  run = function(ctx)
    local ls = netstat.listeners(app.ports.engine)
    if #ls == 0 then return pass("nothing else holds TCP %d", app.ports.engine) end
    local l = ls[1]
    local want = ctx.params.program
    if want and l.owner and l.owner.program ~= want then
      return fail {
        summary = string.format("TCP %d is held by %s (pid %d): the app cannot reach its backup engine", app.ports.engine,
                                l.owner.program, l.owner.pid),
        cause = "port-in-use",
        advice = { "Stop or reconfigure " .. l.owner.program .. "; " .. app.name .. " needs TCP " .. app.ports.engine .. " on 127.0.0.1." },
        evidence = l,
      }
    end
    return pass("TCP %d is held by %s", app.ports.engine, l.owner and l.owner.program or "the backup service")
  end,
}
