#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
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

    /// Reads a folder from disk: every `.lua` file, recursively (lib/, overlays/). Symbolic links are
    /// followed, files and folders alike (a pack under development is usually linked into the search
    /// path); a link back into a folder already being read is not followed again.
    public static func read(directory: URL, name: String? = nil, origin: PackOrigin) throws -> PackFolder {
        var files: [String: String] = [:]
        var visiting: Set<String> = []
        func walk(_ dir: URL, prefix: String) throws {
            let real = dir.resolvingSymlinksInPath().path
            guard visiting.insert(real).inserted else { return }
            defer { visiting.remove(real) }
            let entries: [String]
            do {
                entries = try FileManager.default.contentsOfDirectory(atPath: dir.path)
            } catch {
                throw PackReadError(path: dir.path, reason: Self.reason(error, reading: dir.path))
            }
            // A pack's tests/ (cases and recordings for `pack test`) are not part of the pack.
            for entry in entries.sorted() where !entry.hasPrefix(".") && !(prefix.isEmpty && entry == "tests") {
                let url = dir.appendingPathComponent(entry)
                // stat follows links: a dangling link is skipped like a missing file.
                var info = stat()
                guard stat(url.path, &info) == 0 else { continue }
                if info.st_mode & S_IFMT == S_IFDIR {
                    try walk(url, prefix: prefix + entry + "/")
                } else if entry.hasSuffix(".lua") {
                    do {
                        files[prefix + entry] = try String(contentsOf: url, encoding: .utf8)
                    } catch {
                        throw PackReadError(path: url.path, reason: Self.reason(error, reading: url.path))
                    }
                }
            }
        }
        try walk(directory, prefix: "")
        return PackFolder(name: name ?? directory.lastPathComponent, origin: origin, files: files)
    }

    private static func reason(_ error: Error, reading path: String) -> String {
        if !FileManager.default.isReadableFile(atPath: path) { return "permission denied" }
        if (try? Data(contentsOf: URL(fileURLWithPath: path))) != nil { return "not UTF-8 text" }
        return "cannot be read"
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

/// A pack file or folder that exists but cannot be read.
public struct PackReadError: Error, CustomStringConvertible {
    public var path: String
    public var reason: String
    public var description: String { "cannot read \(path): \(reason)" }
}
