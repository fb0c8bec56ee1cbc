return check(require("tcp-service:steps").port_forward())
