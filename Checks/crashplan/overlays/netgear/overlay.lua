-- NETGEAR routers (Nighthawk, Orbi): their admin page's own words for a port forward.
return overlay {
  extends = "crashplan",
  title = "NETGEAR routers",
  when = { vendor = { manufacturer = "NETGEAR" } },
  replace = { ["port-forward"] = "port-forward" },
}
