#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Where portdoctor keeps the person's own state (XDG base directories).
public struct UserDirectories: Sendable {
    /// `$XDG_CONFIG_HOME/portdoctor` or `~/.config/portdoctor`.
    public var config: String
    /// `$XDG_DATA_HOME/portdoctor` or `~/.local/share/portdoctor`.
    public var data: String

    public init(config: String, data: String) {
        self.config = config
        self.data = data
    }

    public init?(environment: [String: String]) {
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 }
        func base(_ variable: String, _ fallback: String) -> String? {
            if let v = environment[variable], v.hasPrefix("/") { return v }
            return home.map { $0 + "/" + fallback }
        }
        guard let config = base("XDG_CONFIG_HOME", ".config"), let data = base("XDG_DATA_HOME", ".local/share") else {
            return nil
        }
        self.config = config + "/portdoctor"
        self.data = data + "/portdoctor"
    }

    /// Packs installed with `pack install`: on the search path.
    public var installedPacks: String { data + "/packs" }
    /// Publisher keys the person trusts, one `NAME.pub` file each.
    public var trustedKeys: String { config + "/trusted-keys" }
}

/// The publisher keys the person has chosen to trust (`pack trust add`). Nothing is trusted until
/// added: no key ships with portdoctor, and a key is never added as a side effect of an install.
public struct TrustStore {
    public let directory: String

    public init(directory: String) { self.directory = directory }

    public struct Entry: Sendable, Equatable {
        /// The name the person gave the key (its file name), shown as the publisher.
        public var name: String
        public var key: PublisherKey
    }

    public func entries() -> [Entry] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasSuffix(".pub") && !$0.hasPrefix(".") }.sorted().compactMap { file in
            let path = directory + "/" + file
            guard let text = try? String(contentsOfFile: path, encoding: .utf8),
                let key = try? PublisherKey.parse(text, file: path)
            else { return nil }
            return Entry(name: String(file.dropLast(4)), key: key)
        }
    }

    /// The trusted entry for a key, if the person trusts it.
    public func entry(for key: PublisherKey) -> Entry? { entries().first { $0.key.raw == key.raw } }

    static func validName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 64 && !name.hasPrefix(".") && !name.hasPrefix("-")
            && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }
    }

    @discardableResult
    public func add(_ key: PublisherKey, name: String) throws(PackArchiveError) -> Entry {
        guard Self.validName(name) else {
            throw .refused("'\(name)' is not a usable name: letters, digits, '-', '_' and '.' (up to 64)")
        }
        let all = entries()
        if let same = all.first(where: { $0.key.raw == key.raw }) {
            throw .refused("this key (\(key.fingerprint)) is already trusted as '\(same.name)'")
        }
        if all.contains(where: { $0.name == name }) {
            throw .refused("a key named '\(name)' is already trusted; remove it first (pack trust remove \(name))")
        }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            var stored = key
            stored.name = name
            try Data(stored.fileText.utf8).write(to: URL(fileURLWithPath: directory + "/\(name).pub"), options: .atomic)
        } catch {
            throw .refused("cannot write to the trust store \(directory): \(error)")
        }
        return Entry(name: name, key: key)
    }

    public func remove(name: String) throws(PackArchiveError) {
        let names = entries().map(\.name)
        guard names.contains(name) else {
            throw .refused(
                "no trusted key is named '\(name)'\(Suggest.hint(name, names))"
                    + (names.isEmpty ? "; the trust store is empty" : "; trusted: \(names.joined(separator: ", "))"))
        }
        do { try FileManager.default.removeItem(atPath: directory + "/\(name).pub") } catch {
            throw .refused("cannot remove \(name) from \(directory): \(error)")
        }
    }
}
