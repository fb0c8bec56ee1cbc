-- Connections between computers, following the CrashPlan troubleshooting guide step by step.
return pack {
  id = "crashplan",
  version = "1.0.0",
  title = "Connections between computers (CrashPlan)",
  description = "Why can't two computers back up to each other on TCP 4242?",
  params = {
    port = { type = "port", default = 4242, doc = "the TCP port the backup service listens on for other computers" },
    peer = { type = "endpoint",
             doc = "the other computer, as HOST or HOST:PORT; PORT is the port its backup service listens on (default: the same as port)" },
    reflector = { type = "endpoint",
                  doc = "where portdoctor listen runs for the outside tests, as HOST or HOST:PORT (default: the peer's host, port 4250)" },
    role = {
      type = "choice", choices = { "destination", "source" }, default = "destination",
      doc = "destination: this computer receives backups; source: it sends its backup to the other computer",
    },
    service = { type = "string", doc = "the backup service's name, if not the usual one for this platform" },
    service_config = { type = "string", doc = "the service manager's config file, when it is not in the default place (supervisord: the file given to supervisorctl -c; by default the one the running supervisord was started with)" },
    public_name = { type = "string",
                    doc = "the name the other computer connects to (optional): its IPv6 address (AAAA) is checked against this computer's stable one" },
    program = { type = "string", doc = "a hint: the backup service's process name (CrashPlanService, java …); without it, who owns the port is told from the service manager's process tree and the names lib/app.lua knows" },
  },
  causes = {},
  -- The guide's order, except its first step: re-authenticating is for when everything here passes.
  steps = { "engine-port", "service", "listener", "address", "firewall", "paths", "reach-peer", "pinhole",
            "port-forward", "restart-service",
            "listen-port", "reauthenticate" },
}
