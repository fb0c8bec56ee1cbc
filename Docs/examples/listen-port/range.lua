return check {
  title = "The port is in the range the guide recommends",
  run = function(ctx)
    local port = ctx.params.port
    if port <= 1023 then
      return fail {
        summary = string.format("port %d is a system port (1023 or lower)", port),
        advice = { "Choose a port between 1024 and 5999, for example 4242." },
        evidence = { port = port, range = { 1024, 5999 } },
      }
    elseif port > 5999 then
      return warn {
        summary = string.format("port %d is above the recommended range", port),
        advice = { "It can work, but ports between 1024 and 5999 are least likely to clash." },
        evidence = { port = port, range = { 1024, 5999 } },
      }
    end
    return pass("port %d is in the recommended range", port)
  end,
}
