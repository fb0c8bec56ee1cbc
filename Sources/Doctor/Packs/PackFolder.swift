#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Where a pack or overlay was found. `portdoctor list` shows it.
public enum PackOrigin: Sendable, Equatable, CustomStringConvertible {
    case bundled
    case searchPath(String)
    case path(String)

    public var description: String {
        switch self {
        case .bundled: "bundled"
        case .searchPath(let dir): dir
        case .path(let dir): dir
        }
    }
}

/// The files of one pack or overlay folder, read into memory.
public struct PackFolder: Sendable {
    /// A short name for messages and chunk names, e.g. "crashplan" or "vendors/openwrt".
    public var name: String
    public var origin: PackOrigin
    /// Relative path → text, e.g. "pack.lua", "listener.lua", "lib/ports.lua".
    public var files: [String: String]

    public init(name: String, origin: PackOrigin, files: [String: String]) {
        self.name = name
        self.origin = origin
        self.files = files
    }

    public var isPack: Bool { files["pack.lua"] != nil }
    public var isOverlay: Bool { files["overlay.lua"] != nil }

    /// Check files: `.lua` files at the top of the folder, besides the manifest.
    var checkFiles: [String] {
        files.keys.filter { !$0.contains("/") && $0.hasSuffix(".lua") && $0 != "pack.lua" && $0 != "overlay.lua" }
            .sorted()
    }

    func displayName(_ file: String) -> String { "\(name)/\(file)" }

    /// Reads a folder from disk: every `.lua` file, recursively (lib/, overlays/).
    public static func read(directory: URL, name: String? = nil, origin: PackOrigin) throws -> PackFolder {
        var files: [String: String] = [:]
        for path in try FileManager.default.subpathsOfDirectory(atPath: directory.path) where path.hasSuffix(".lua") {
            files[path] = try String(contentsOf: directory.appendingPathComponent(path), encoding: .utf8)
        }
        return PackFolder(name: name ?? directory.lastPathComponent, origin: origin, files: files)
    }

    /// The folders below `prefix/` inside this one, as folders of their own (a pack's overlays).
    func subfolders(under prefix: String) -> [PackFolder] {
        var grouped: [String: [String: String]] = [:]
        for (path, text) in files where path.hasPrefix(prefix + "/") {
            let rest = path.dropFirst(prefix.count + 1)
            guard let slash = rest.firstIndex(of: "/") else { continue }
            grouped[String(rest[..<slash]), default: [:]][String(rest[rest.index(after: slash)...])] = text
        }
        return grouped.keys.sorted().map {
            PackFolder(name: "\(name)/\(prefix)/\($0)", origin: origin, files: grouped[$0]!)
        }
    }
}
