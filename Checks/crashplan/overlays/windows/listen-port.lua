-- On Windows, Hyper-V, WSL 2 and Docker reserve blocks of ports ("excluded port ranges"); binding
-- one fails with access denied although no program shows up in netstat. The shared step can only
-- say it cannot tell (elsewhere "denied" means "needs administrator rights"); here it is the answer.
local app = require("crashplan:app")
local def = require("tcp-service:steps").listen_port { low = 1024, high = 5999, names = app.services,
                                                              programs = app.programs }
local shared = def.run
def.run = function(ctx)
  local b = socket.bind_test(ctx.params.port)
  if b.status ~= "denied" then return shared(ctx) end
  return fail {
    summary = "TCP " .. ctx.params.port .. " is in a range Windows reserves for itself (binding it is denied)",
    cause = "port-in-use",
    advice = {
      "See the reserved ranges: netsh interface ipv4 show excludedportrange protocol=tcp",
      "Choose a listen port outside them, between 1024 and 5999, in the app's settings, and forward that port on your router too.",
      "Or reserve the port for the app before Hyper-V takes it (as administrator): net stop winnat, "
        .. "netsh int ipv4 add excludedportrange protocol=tcp startport=" .. ctx.params.port .. " numberofports=1, net start winnat",
    },
    evidence = b,
  }
end
return check(def)
