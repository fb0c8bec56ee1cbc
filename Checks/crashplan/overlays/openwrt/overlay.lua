-- Routers running OpenWrt (they announce it over UPnP): LuCI's port forwards, and the life of UPnP forwards.
return overlay {
  extends = "crashplan",
  title = "OpenWrt routers",
  when = { vendor = { manufacturer = "OpenWrt" } },
  replace = { ["port-forward"] = "port-forward" },
}
