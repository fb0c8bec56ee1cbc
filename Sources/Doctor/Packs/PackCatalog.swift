import BundledChecks

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Every pack and overlay portdoctor can see: the bundled ones, then the search path
/// (user directory, system directories, `PORTDOCTOR_PATH`). A pack on the search path with the
/// same id as a bundled one replaces it.
public struct PackCatalog: Sendable {
    public var packs: [PackFolder]
    public var overlays: [PackFolder]
    /// Folders that could not be read, with why.
    public var problems: [String]

    public init(packs: [PackFolder], overlays: [PackFolder] = [], problems: [String] = []) {
        self.packs = packs
        self.overlays = overlays
        self.problems = problems
    }

    /// The directories searched, in order (later ones win on equal ids): the system's, the packs
    /// installed with `pack install` (data directory), the person's own (config directory), then
    /// `PORTDOCTOR_PATH`.
    public static func searchPath(environment: [String: String]) -> [String] {
        var dirs = ["/usr/share/portdoctor/packs", "/etc/portdoctor/packs"]
        if let installed = UserDirectories(environment: environment)?.installedPacks { dirs.append(installed) }
        let config =
            environment["XDG_CONFIG_HOME"].map { $0 + "/portdoctor/packs" }
            ?? environment["HOME"].map { $0 + "/.config/portdoctor/packs" }
        if let config { dirs.append(config) }
        if let extra = environment["PORTDOCTOR_PATH"] {
            dirs += extra.split(separator: ":").map(String.init).filter { !$0.isEmpty }
        }
        return dirs
    }

    public static func discover(environment: [String: String], bundled: [String: String] = BundledChecks.files)
        -> PackCatalog
    {
        var catalog = PackCatalog(packs: [])
        catalog.add(folders(in: bundled, origin: .bundled))
        for dir in searchPath(environment: environment) {
            let url = URL(fileURLWithPath: dir)
            guard FileManager.default.fileExists(atPath: url.path) else { continue }
            do {
                let all = try PackFolder.read(directory: url, name: "", origin: .searchPath(dir))
                catalog.add(folders(in: all.files, origin: .searchPath(dir)))
            } catch {
                catalog.problems.append("\(dir): \(error)")
            }
        }
        return catalog
    }

    /// A pack given as a path (its folder, or its pack.lua).
    public static func folder(atPath path: String) throws -> PackFolder {
        var url = URL(fileURLWithPath: path)
        if url.lastPathComponent == "pack.lua" || url.lastPathComponent == "overlay.lua" {
            url.deleteLastPathComponent()
        }
        guard (try? FileManager.default.contentsOfDirectory(atPath: url.path)) != nil else {
            throw CatalogError("no pack folder at \(path)")
        }
        let folder = try PackFolder.read(directory: url, origin: .path(url.path))
        guard folder.isPack || folder.isOverlay else {
            throw CatalogError("\(path) is not a pack: it has no pack.lua (or overlay.lua)")
        }
        return folder
    }

    public func pack(named id: String) -> PackFolder? { packs.last { $0.name == id || $0.name.hasSuffix("/" + id) } }

    /// Folders with a pack.lua or overlay.lua, from a flat map of relative paths.
    static func folders(in files: [String: String], origin: PackOrigin) -> [PackFolder] {
        let roots = files.keys.filter { $0.hasSuffix("pack.lua") || $0.hasSuffix("overlay.lua") }
            .map { path -> String in
                let parts = path.split(separator: "/")
                return parts.dropLast().joined(separator: "/")
            }
            .filter { !$0.isEmpty && !$0.contains("/overlays/") && !$0.hasPrefix("overlays/") }
        return Set(roots).sorted().map { root in
            var own: [String: String] = [:]
            for (path, text) in files where path.hasPrefix(root + "/") {
                own[String(path.dropFirst(root.count + 1))] = text
            }
            return PackFolder(name: root, origin: origin, files: own)
        }
    }

    private mutating func add(_ folders: [PackFolder]) {
        for folder in folders {
            if folder.isPack {
                let id = folder.name.split(separator: "/").last.map(String.init) ?? folder.name
                packs.removeAll { ($0.name.split(separator: "/").last.map(String.init) ?? $0.name) == id }
                packs.append(folder)
            } else if folder.isOverlay {
                overlays.removeAll { $0.name == folder.name }
                overlays.append(folder)
            }
        }
    }
}

public struct CatalogError: Error, CustomStringConvertible {
    public var description: String
    init(_ d: String) { description = d }
}
