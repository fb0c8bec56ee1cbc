-- macOS: who holds the app's own port is only visible with administrator rights.
return overlay {
  extends = "crashplan",
  title = "macOS",
  when = { platform = "macos" },
  replace = { ["engine-port"] = "engine-port" },
}
