-- The telnet test from the computer that connects (role=source).
local steps = require("tcp-service:steps")
local def = steps.reach_peer()
local run = def.run
def.run = function(ctx)
  if ctx.params.role ~= "source" then return skip("the other computer connects to this one: the port-forward step tests that") end
  return run(ctx)
end
return check(def)
