-- What the guide and the vendor's pages say about the app, as data the checks share.
return {
  name = "CrashPlan",
  ports = {
    backup = 4242,  -- computer to computer, inbound on the destination (changeable)
    engine = 4243,  -- the app talking to its own service, on 127.0.0.1 only
  },
  -- The service's process names, compared in full (Linux's comm would read "CrashPlanServic"):
  -- a listener with one of these names is the app's even when the service manager cannot say.
  programs = { "CrashPlanService", "Code42Service" },
  services = {
    linux = { "crashplan", "code42" },
    macos = { "com.code42.service", "com.crashplan.engine" },
    windows = { "Code42Service", "CrashPlanService" },
  },
}
