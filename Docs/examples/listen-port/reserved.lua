local reserved = require("ports")

return check {
  title = "The port is not one the app already uses",
  needs = { "range" },
  run = function(ctx)
    local use = reserved[ctx.params.port]
    if use then
      return fail {
        summary = string.format("port %d is already used for %s", ctx.params.port, use),
        cause = "port-in-use",
        advice = { "Choose another port, and forward that port on your router too." },
      }
    end
    return pass("port %d is free as far as the app is concerned", ctx.params.port)
  end,
}
