-- Windows: a port refused with "access denied" is inside a range Windows keeps for itself.
return overlay {
  extends = "crashplan",
  title = "Windows",
  when = { platform = "windows" },
  replace = { ["listen-port"] = "listen-port" },
}
