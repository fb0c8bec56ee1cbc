-- Step 3 of the guide, the telnet test, from the computer that sends its backup. The guide's flow:
-- it fails → port forwarding; it works but the app still cannot connect → restart the service.
local def = require("tcp-service:steps").reach_peer { next = { "port-forward", "restart-service" },
                                                       on_failure = "port-forward", on_success = "restart-service" }
local run = def.run
def.run = function(ctx)
  if ctx.params.role ~= "source" then return skip("the other computer connects to this one: the port-forward step tests that") end
  return run(ctx)
end
return check(def)
