import LuaHost

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

/// Who vouches for an archive.
public enum TrustState: Sendable, Equatable, CustomStringConvertible {
    /// Signed with a key in the trust store, under this name.
    case trusted(String)
    /// Signed, but with a key the person has not added.
    case untrusted
    case unsigned

    public var description: String {
        switch self {
        case .trusted(let name): "trusted (\(name))"
        case .untrusted: "untrusted"
        case .unsigned: "unsigned"
        }
    }
}

/// What `pack install` records next to an installed pack (`.install.json`, hidden from the loader).
public struct InstallRecord: Codable, Sendable, Equatable {
    public var id: String
    public var version: String
    /// The name in the signer's key, as the archive claims it (nil when unsigned).
    public var publisher: String?
    public var fingerprint: String?
    /// What the trust store said at install time: "trusted", "untrusted" or "unsigned".
    public var trust: String
    /// The trust-store name of the key, when trusted.
    public var trustedAs: String?
    public var archiveSHA256: String
    public var installedAt: Double

    static let fileName = ".install.json"
}

/// An installed pack as `pack list` shows it.
public struct InstalledPack: Sendable {
    public var record: InstallRecord
    public var directory: String
    /// The trust store's view now (a key can be added or removed after the install).
    public var trustNow: TrustState
}

/// Installs, replaces and removes packs in the user's data directory.
///
/// Layout: `packs/ID` is a symbolic link to `packs/.store/ID@VERSION-TOKEN/`, the pack's files. A
/// new version is written in full to a new store folder (`….partial` while it is being written),
/// then the link is switched with one `rename` — atomic on POSIX file systems — so whoever reads the
/// search path sees the old pack or the new one, never half of one. A crash at any point leaves the
/// old link, and so the old pack, working; leftovers in `.store` that no link points at are removed
/// by the next install or remove. The loader skips hidden names, so `.store` itself is never loaded.
public struct PackInstaller {
    public let directories: UserDirectories
    /// Called after the new version is staged and before the switch: tests stop the process (or
    /// throw) here to show that an interrupted install leaves the old pack working. What was staged
    /// stays behind, as after a crash, for the next install to clear.
    public var beforeCommit: (() throws -> Void)?

    public init(directories: UserDirectories) { self.directories = directories }

    var root: String { directories.installedPacks }
    var store: String { root + "/.store" }

    public struct Options {
        public var allowUntrusted = false
        public var allowDowngrade = false
        /// Asked when the archive is unsigned or its key untrusted and `allowUntrusted` is off; nil
        /// (no terminal) refuses.
        public var confirm: ((String) -> Bool)?
        public init() {}
    }

    public struct Outcome: Sendable {
        public var record: InstallRecord
        public var previousVersion: String?
        public var trust: TrustState
    }

    public func trust(of archive: VerifiedArchive) -> TrustState {
        guard let key = archive.manifest.publisher else { return .unsigned }
        return TrustStore(directory: directories.trustedKeys).entry(for: key).map { .trusted($0.name) } ?? .untrusted
    }

    /// Why an archive is not trusted, for the question or the refusal.
    public static func reason(_ trust: TrustState, _ archive: VerifiedArchive) -> String? {
        let m = archive.manifest
        switch trust {
        case .trusted: return nil
        case .unsigned:
            return "\(m.id) \(m.version) is not signed: nobody vouches that its checks are what the author wrote, "
                + "and they will run on this computer"
        case .untrusted:
            let key = m.publisher!
            return "\(m.id) \(m.version) is signed by '\(key.name)' with key \(key.fingerprint), which is not in your "
                + "trust store; if you know this publisher's key, add it with `portdoctor pack trust add KEY.pub --name NAME`"
        }
    }

    @discardableResult
    public func install(_ bytes: [UInt8], options: Options = Options()) throws(PackArchiveError) -> Outcome {
        let archive = try PackArchive.verify(bytes)
        let m = archive.manifest
        guard TrustStore.validName(m.id) else { throw .malformed("the pack id '\(m.id)' is not a usable folder name") }
        try Self.checkManifest(archive)

        let trust = trust(of: archive)
        if let why = Self.reason(trust, archive), !options.allowUntrusted {
            guard let confirm = options.confirm, confirm(why) else {
                throw .refused("not installed: \(why). To install it anyway, use --allow-untrusted")
            }
        }

        try makeDirectory(store)
        let lock = try Lock(path: root + "/.lock")
        defer { lock.release() }
        sweep()

        let previous = installed().first { $0.record.id == m.id }
        if let previous, PackVersion.compare(m.version, previous.record.version) == .orderedAscending,
            !options.allowDowngrade
        {
            throw .refused(
                "not installed: \(m.id) \(previous.record.version) is installed and \(m.version) is older; "
                    + "to go back to it, use --allow-downgrade")
        }
        let link = root + "/" + m.id
        var info = stat()
        if lstat(link, &info) == 0, info.st_mode & S_IFMT != S_IFLNK {
            throw .refused("\(link) exists and was not installed by portdoctor: move it away first")
        }

        let token = String(UInt64.random(in: 0...UInt64.max), radix: 36)
        let name = "\(m.id)@\(m.version)-\(token)"
        let staging = store + "/" + name + ".partial"
        let record = InstallRecord(
            id: m.id, version: m.version, publisher: m.publisher?.name, fingerprint: m.publisher?.fingerprint,
            trust: { if case .trusted = trust { "trusted" } else { "\(trust)" } }(),
            trustedAs: { if case .trusted(let n) = trust { n } else { nil } }(),
            archiveSHA256: archive.archiveSHA256, installedAt: Date().timeIntervalSince1970)
        var files = archive.files
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        files[InstallRecord.fileName] = Array((try? encoder.encode(record)) ?? Data())
        for (path, data) in files.sorted(by: { $0.key < $1.key }) {
            let full = staging + "/" + path
            try makeDirectory(String(full[..<full.lastIndex(of: "/")!]))
            try writeDurably(full, data)
        }
        try syncDirectory(staging)
        try rename(staging, store + "/" + name)
        try syncDirectory(store)

        // The switch: a new link beside the old one, renamed over it.
        let newLink = root + "/.link-\(m.id)-\(token)"
        guard symlink(".store/" + name, newLink) == 0 else { throw posix("cannot create \(newLink)") }
        do { try beforeCommit?() } catch { throw .refused("the install was interrupted: \(error)") }
        try rename(newLink, link)
        try syncDirectory(root)
        sweep()
        return Outcome(record: record, previousVersion: previous?.record.version, trust: trust)
    }

    /// Removes an installed pack (its link, then its files).
    public func remove(id: String) throws(PackArchiveError) {
        let link = root + "/" + id
        var info = stat()
        guard lstat(link, &info) == 0, info.st_mode & S_IFMT == S_IFLNK else {
            let names = installed().map(\.record.id)
            throw .refused(
                "no installed pack is named '\(id)'\(Suggest.hint(id, names))"
                    + (names.isEmpty ? "" : "; installed: \(names.joined(separator: ", "))"))
        }
        try makeDirectory(store)
        let lock = try Lock(path: root + "/.lock")
        defer { lock.release() }
        guard unlink(link) == 0 else { throw posix("cannot remove \(link)") }
        try syncDirectory(root)
        sweep()
    }

    /// Installed packs, by id.
    public func installed() -> [InstalledPack] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        let trustStore = TrustStore(directory: directories.trustedKeys)
        let trusted = trustStore.entries()
        return names.filter { !$0.hasPrefix(".") }.sorted().compactMap { name in
            let dir = root + "/" + name
            guard let data = FileManager.default.contents(atPath: dir + "/" + InstallRecord.fileName),
                let record = try? JSONDecoder().decode(InstallRecord.self, from: data)
            else { return nil }
            var now = TrustState.unsigned
            if let fp = record.fingerprint {
                now = trusted.first { $0.key.fingerprint == fp }.map { .trusted($0.name) } ?? .untrusted
            }
            return InstalledPack(record: record, directory: dir, trustNow: now)
        }
    }

    /// The archive's pack.lua must load and say the id and version the manifest says.
    static func checkManifest(_ archive: VerifiedArchive) throws(PackArchiveError) {
        var lua: [String: String] = [:]
        for (path, data) in archive.files where path.hasSuffix(".lua") {
            guard let text = String(validating: data, as: UTF8.self) else {
                throw .malformed("\(path) is not UTF-8 text")
            }
            lua[path] = text
        }
        let m = archive.manifest
        let folder = PackFolder(name: m.id, origin: .path("archive"), files: lua)
        guard let runtime = try? LuaRuntime(), let loader = try? PackLoader(runtime: runtime),
            let manifest = loader.loadManifest(folder)
        else { throw .malformed("its pack.lua does not load (run `portdoctor pack lint` on the pack)") }
        guard manifest.id == m.id, manifest.version == m.version else {
            throw .malformed(
                "its pack.lua says \(manifest.id) \(manifest.version) but the archive says \(m.id) \(m.version)")
        }
    }

    /// Removes store folders no link points at: staged installs a crash left behind, replaced versions.
    private func sweep() {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        var used: Set<String> = []
        for name in names {
            if name.hasPrefix(".link-") {
                _ = unlink(root + "/" + name)
                continue
            }
            if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: root + "/" + name),
                target.hasPrefix(".store/")
            {
                used.insert(String(target.dropFirst(".store/".count)))
            }
        }
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: store)) ?? [] where !used.contains(entry) {
            try? FileManager.default.removeItem(atPath: store + "/" + entry)
        }
    }

    private func makeDirectory(_ path: String) throws(PackArchiveError) {
        do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
            throw .refused("cannot create \(path): \(error)")
        }
    }

    private func writeDurably(_ path: String, _ data: [UInt8]) throws(PackArchiveError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw posix("cannot write \(path)") }
        defer { close(fd) }
        var done = 0
        while done < data.count {
            let n = data[done...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { throw posix("cannot write \(path)") }
            done += n
        }
        guard fsync(fd) == 0 else { throw posix("cannot write \(path)") }
    }

    private func syncDirectory(_ path: String) throws(PackArchiveError) {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw posix("cannot open \(path)") }
        defer { close(fd) }
        _ = fsync(fd)
    }

    private func rename(_ from: String, _ to: String) throws(PackArchiveError) {
        #if canImport(Glibc)
            let result = Glibc.rename(from, to)
        #else
            let result = Darwin.rename(from, to)
        #endif
        guard result == 0 else { throw posix("cannot rename \(from) to \(to)") }
    }

    private func posix(_ what: String) -> PackArchiveError {
        .refused("\(what): \(String(cString: strerror(errno)))")
    }

    /// One install or remove at a time (an exclusive `flock` on `packs/.lock`).
    private struct Lock {
        let fd: Int32
        init(path: String) throws(PackArchiveError) {
            fd = open(path, O_RDWR | O_CREAT, 0o644)
            guard fd >= 0 else { throw .refused("cannot open \(path): \(String(cString: strerror(errno)))") }
            guard flock(fd, LOCK_EX) == 0 else {
                close(fd)
                throw .refused("cannot lock \(path): \(String(cString: strerror(errno)))")
            }
        }
        func release() { close(fd) }
    }
}

/// Pack versions compared the way people read them: "1.10.0" is newer than "1.9.2"; numeric parts
/// compare as numbers, others as text; "1.0.0-beta" is older than "1.0.0".
public enum PackVersion {
    public enum Order: Sendable { case orderedAscending, orderedSame, orderedDescending }

    public static func compare(_ a: String, _ b: String) -> Order {
        func split(_ v: String) -> (main: [Substring], pre: Substring?) {
            let dash = v.firstIndex(of: "-")
            let main = v[..<(dash ?? v.endIndex)].split(separator: ".")
            return (main, dash.map { v[v.index(after: $0)...] })
        }
        func part(_ x: Substring?, _ y: Substring?) -> Order {
            switch (x.flatMap { Int($0) }, y.flatMap { Int($0) }) {
            case (let i?, let j?): return i < j ? .orderedAscending : i > j ? .orderedDescending : .orderedSame
            default:
                let s = x ?? "0", t = y ?? "0"
                return s < t ? .orderedAscending : s > t ? .orderedDescending : .orderedSame
            }
        }
        let (x, y) = (split(a), split(b))
        for i in 0..<max(x.main.count, y.main.count) {
            let o = part(i < x.main.count ? x.main[i] : nil, i < y.main.count ? y.main[i] : nil)
            if o != .orderedSame { return o }
        }
        switch (x.pre, y.pre) {
        case (nil, nil): return .orderedSame
        case (nil, _): return .orderedDescending
        case (_, nil): return .orderedAscending
        case (let p?, let q?): return p < q ? .orderedAscending : p > q ? .orderedDescending : .orderedSame
        }
    }
}
