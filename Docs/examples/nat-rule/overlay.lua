-- A user's overlay: my router drops connections to ports it does not forward ("stealth mode"),
-- so from outside silence means "no forward" here, not "a forward to a stale address".
-- Use it with: portdoctor run tcp-service --overlay Docs/examples/nat-rule …
return overlay {
  extends = "tcp-service",
  title = "My stealth-mode router",
  replace = { ["port-forward"] = "port-forward" },
}
