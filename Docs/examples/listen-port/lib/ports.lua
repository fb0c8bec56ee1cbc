-- Ports the backup app already uses for something else.
return {
  [4243] = "the app's own connection to its service",
  [443] = "the connection to the vendor's cloud",
}
