-- A worked example from Docs/writing-checks.md: is this a good port for the backup service to
-- listen on? (The vendor's guide, step 6: pick a port between 1024 and 5999 that nothing else uses.)
return pack {
  id = "listen-port",
  version = "1.0.0",
  title = "Choose a listen port for the backup service",
  params = {
    port = { type = "port", default = 4242, doc = "the port you want the backup service to listen on" },
  },
  steps = { "range", "reserved" },
}
