-- On macOS, netstat shows no process names and lsof shows only your own processes unless run with
-- sudo: a listener on 4243 without an owner may be the backup service or another program.
local app = require("crashplan:app")

return check {
  title = "The app's own port (" .. app.ports.engine .. ") is free for the backup service",
  run = function(ctx)
    local ls = netstat.listeners(app.ports.engine)
    if #ls == 0 then return pass("nothing else holds TCP %d", app.ports.engine) end
    local l = ls[1]
    if not l.owner then
      return warn {
        summary = string.format("something listens on TCP %d, but macOS only says who with administrator rights", app.ports.engine),
        advice = { "Run portdoctor again with sudo, or look yourself: sudo lsof -nP -iTCP:" .. app.ports.engine .. " -sTCP:LISTEN",
                   "If it is not " .. app.name .. "'s service, stop that program: " .. app.name .. " needs TCP " .. app.ports.engine .. "." },
        evidence = l,
      }
    end
    local want = ctx.params.program
    if want and l.owner.program ~= want then
      return fail {
        summary = string.format("TCP %d is held by %s (pid %d): the app cannot reach its backup engine", app.ports.engine,
                                l.owner.program, l.owner.pid),
        cause = "port-in-use",
        advice = { "Stop or reconfigure " .. l.owner.program .. " (sudo lsof -nP -iTCP:" .. app.ports.engine .. " shows it)." },
        evidence = l,
      }
    end
    return pass("TCP %d is held by %s", app.ports.engine, l.owner.program)
  end,
}
