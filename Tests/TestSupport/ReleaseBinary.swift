import Foundation

/// The binary people run is the one the README's first command builds: `swift build -c release`.
/// CLI and lab tests run that binary, never the debug one, because optimisation changes behaviour
/// (object lifetimes end earlier, for one). A missing or stale release binary is a failure that says
/// how to build it, not a silent fallback to the debug build.
public enum ReleaseBinary {
    public static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    public static let url = repository.appendingPathComponent(".build/release/portdoctor")
    public static var path: String { url.path }

    /// Why the release binary cannot be used (missing, or older than a source or check file), or nil.
    public static let problem: String? = {
        let fm = FileManager.default
        guard let built = (try? fm.attributesOfItem(atPath: url.path))?[.modificationDate] as? Date else {
            return "no release binary at \(url.path): build it first with `swift build -c release`"
        }
        for folder in ["Sources", "Checks", "Plugins"] {
            let root = repository.appendingPathComponent(folder)
            let files = fm.enumerator(at: root, includingPropertiesForKeys: [.contentModificationDateKey])
            while let file = files?.nextObject() as? URL {
                // Of Checks/, the binary carries the Lua files only: a pack's test cases and
                // recordings (Checks/*/tests/*.json) change without a rebuild.
                if folder == "Checks" && file.pathExtension != "lua" { continue }
                let changed = (try? file.resourceValues(forKeys: [.contentModificationDateKey]))?.contentModificationDate
                if let changed, changed > built {
                    return "the release binary is older than \(file.path): rebuild it with `swift build -c release`"
                }
            }
        }
        return nil
    }()
}
