return check(require("tcp-service:steps").firewall())
