-- Connections between computers, following the CrashPlan troubleshooting guide step by step.
-- The network checks arrive with the socket, firewall, service and port-forward primitives;
-- until then this pack holds only what can really run.
return pack {
  id = "crashplan",
  version = "0.1.0",
  title = "Connections between computers (CrashPlan)",
  description = "Why can't two computers back up to each other on TCP 4242?",
  params = {
    port = { type = "port", default = 4242, doc = "the TCP port the backup service listens on for other computers" },
    peer = { type = "endpoint", doc = "the other computer, as host or host:port" },
    role = {
      type = "choice", choices = { "source", "destination" }, default = "destination",
      doc = "whether this computer sends its backup (source) or receives one (destination)",
    },
  },
  steps = { "reauthenticate" },
}
