-- On macOS, netstat shows no process names and lsof shows only your own processes unless run with
-- sudo: a listener on the app's port without an owner may be the backup service or another program.
local app = require("crashplan:app")
local port = app.ports.engine

return check(require("crashplan:engine").port_check {
  unknown_owner = function(l)
    return warn {
      summary = string.format("something listens on TCP %d, but macOS only says who with administrator rights", port),
      advice = { "Run portdoctor again with sudo, or look yourself: sudo lsof -nP -iTCP:" .. port .. " -sTCP:LISTEN",
                 "If it is not " .. app.name .. "'s service, stop that program: " .. app.name .. " needs TCP " .. port .. "." },
      evidence = l,
    }
  end,
  stop_advice = function(program)
    return "Stop or reconfigure " .. program .. " (sudo lsof -nP -iTCP:" .. port .. " shows it)."
  end,
})
