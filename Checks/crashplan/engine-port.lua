-- The check lives in lib/engine.lua, shared with the macOS overlay.
return check(require("engine").port_check())
