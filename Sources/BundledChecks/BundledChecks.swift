/// The packs in `Checks/`, compiled in by the EmbedChecks plugin: relative path → text.
public enum BundledChecks {
    public static var files: [String: String] { bundledCheckFiles }
    /// Other files the binary carries: "portdoctor.lua", the LuaLS stubs of the Lua API (Docs/lua/).
    public static var supportFiles: [String: String] { bundledSupportFiles }
}
