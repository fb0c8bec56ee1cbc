-- TP-Link routers (Archer, Deco): "virtual servers" are their port forwards.
return overlay {
  extends = "crashplan",
  title = "TP-Link routers",
  when = { vendor = { manufacturer = "TP-Link" } },
  replace = { ["port-forward"] = "port-forward" },
}
