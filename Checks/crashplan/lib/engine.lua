-- "Unable to connect to the backup engine" is rarely the network: another program on the app's
-- own port. The check for every platform; what differs is passed in: unknown_owner(listener) for a
-- listener whose owner this computer will not name, stop_advice(program) for the fix.
local app = require("app")
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
      local want = ctx.params.program
      if want and l.owner and l.owner.program ~= want then
        return fail {
          summary = string.format("TCP %d is held by %s (pid %d): the app cannot reach its backup engine", port,
                                  l.owner.program, l.owner.pid),
          cause = "port-in-use",
          advice = { stop_advice(l.owner.program) },
          evidence = l,
        }
      end
      return pass("TCP %d is held by %s", port, l.owner and l.owner.program or "the backup service")
    end,
  }
end

return M
