local nat = require("tcp-service:nat")

-- A copy of the bundled rules: changing it changes this step only.
local rules = nat.ruleset()

rules:add({
  id = "stealth-router",
  -- e: what portforward.survey saw; f: what nat.facts derived from it.
  when = function(e, f) return f.outside == "timeout" and not f.mapped_here end,
  verdict = function(e, f)
    return {
      kind = "forward-missing", cause = "port-forward-missing",
      explanation = "from outside the connection got no answer, and this router drops ports it does not forward: it does not forward the port to this computer",
      advice = { "In the router's admin page, forward TCP to this computer (" .. table.concat(e.local_addresses or {}, ", ") .. ")." },
      repair = e.upnp and "add-forward" or nil,
    }
  end,
}, { before = "dropped-before-here" })

return check(require("tcp-service:steps").port_forward { needs = { "listener", "firewall" }, rules = rules })
