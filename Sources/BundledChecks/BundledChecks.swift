/// The packs in `Checks/`, compiled in by the EmbedChecks plugin: relative path → text.
public enum BundledChecks {
    public static var files: [String: String] { bundledCheckFiles }
}
