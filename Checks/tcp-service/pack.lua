-- Why can't the other computer connect to a TCP service on this one (or this one to it)?
return pack {
  id = "tcp-service",
  version = "1.0.0",
  title = "Connections to a TCP service",
  description = "portdoctor run tcp-service --param port=22000 --param service=syncthing --peer other-computer",
  params = {
    port = { type = "port", required = true, doc = "the TCP port the service listens on" },
    peer = { type = "endpoint",
             doc = "the other computer, as HOST or HOST:PORT; PORT is the port its service listens on (default: the same as port)" },
    reflector = { type = "endpoint",
                  doc = "where portdoctor listen runs for the outside tests, as HOST or HOST:PORT (default: the peer's host, port 4250)" },
    role = { type = "choice", choices = { "destination", "source" }, default = "destination",
             doc = "destination: this computer runs the service; source: this computer connects to it" },
    service = { type = "string", doc = "the service's name for the service manager (or a runit service directory)" },
    service_config = { type = "string", doc = "the service manager's config file, when it is not in the default place (supervisord: the file given to supervisorctl -c; by default the one the running supervisord was started with)" },
    public_name = { type = "string",
                    doc = "the name the other computer connects to (optional): its IPv6 address (AAAA) is checked against this computer's stable one" },
    program = { type = "string", doc = "a hint: the name of the service's process; without it, who owns the port is told from the service manager's process tree (give --param service)" },
  },
  steps = { "service", "listener", "address", "firewall", "reach-peer", "pinhole", "port-forward", "listen-port" },
}
