-- "Unable to connect to the backup engine" is rarely the network: another program on the app's
-- own port. The check for every platform; what differs is passed in: unknown_owner(listener) for a
-- listener whose owner this computer will not name, stop_advice(program) for the fix.
local app = require("app")
local steps = require("tcp-service:steps")
local M = {}

function M.port_check(opts)
  opts = opts or {}
  local port = app.ports.engine
  local stop_advice = opts.stop_advice or function(program)
    return "Stop or reconfigure " .. program .. "; " .. app.name .. " needs TCP " .. port .. " on 127.0.0.1."
  end
  return {
    title = "The app's own port (" .. port .. ") is free for the backup service",
    run = function(ctx)
      local ls = netstat.listeners(port)
      if #ls == 0 then return pass("nothing else holds TCP %d", port) end
      local l = ls[1]
      if not l.owner and opts.unknown_owner then return opts.unknown_owner(l) end
      if not l.owner then
        -- Another user's program (the service runs as root): only the administrator may see which.
        local why = l.access == "no-permission" and (l.access_error or "another user's program") or nil
        if why then
          return steps.unseen(ctx, string.format("which program holds TCP %d (the app's own port)", port), why,
                              { evidence = l, advice = { "If it is not " .. app.name .. "'s service, " .. stop_advice("it") } })
        end
        return warn {
          summary = string.format("TCP %d is held by a program this computer does not name: it may not be the backup service", port),
          advice = { "If it is not " .. app.name .. "'s service, " .. stop_advice("it") },
          evidence = l,
        }
      end
      -- Whose it is, from the service manager's process tree and the app's program names.
      local mine, why = steps.identify(ctx, l, { names = app.services, programs = app.programs })
      if mine == false then
        return fail {
          summary = string.format("TCP %d is held by %s (pid %d): the app cannot reach its backup engine (%s)", port,
                                  l.owner.program, l.owner.pid, why),
          cause = "port-in-use",
          advice = { stop_advice(l.owner.program) },
          evidence = l,
        }
      end
      if mine == nil then
        return warn {
          summary = string.format("TCP %d is held by %s (pid %d), and cannot tell whether it is the backup service: %s",
                                  port, l.owner.program, l.owner.pid, why),
          advice = { "If " .. l.owner.program .. " is not " .. app.name .. "'s service, " .. stop_advice(l.owner.program) },
          evidence = l,
        }
      end
      return pass("TCP %d is held by the backup service, %s (pid %d): %s", port, l.owner.program, l.owner.pid, why)
    end,
  }
end

return M
