-- A paired run only (run --with): the source's connects to the destination's backup port over every
-- family and path, from either computer; which one fails says which computer (or router) to fix.
return check(require("tcp-service:steps").paths())
