-- The shared step, see lib/steps.lua; after the service step, so that a restart (--fix) is seen
-- here too. Not `needs`: without --param service the service step is skipped, and the port is
-- still worth checking.
return check(require("tcp-service:steps").listener())
