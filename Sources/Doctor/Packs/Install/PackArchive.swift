import Crypto

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

/// Why an archive, a key or an install was refused. Every message says what is wrong in words a
/// person can act on.
public enum PackArchiveError: Error, Equatable, CustomStringConvertible {
    case malformed(String)
    /// A file's hash, the file list or the signature does not match: the archive was changed.
    case tampered(String)
    case badKey(String)
    case refused(String)

    public var description: String {
        switch self {
        case .malformed(let why): "not a portdoctor pack archive: \(why)"
        case .tampered(let why): "the archive was changed after it was signed: \(why)"
        case .badKey(let why): why
        case .refused(let why): why
        }
    }
}

/// An Ed25519 public key with the name its owner gave it. File format (one line):
/// `portdoctor-public-key ed25519 BASE64 NAME…`.
public struct PublisherKey: Sendable, Equatable {
    public var name: String
    public var raw: [UInt8]

    public init(name: String, raw: [UInt8]) {
        self.name = name
        self.raw = raw
    }

    /// "ed25519:" and the first 16 hex digits of the key's SHA-256: short enough to read out, long
    /// enough that two keys do not share it by chance.
    public var fingerprint: String {
        "ed25519:" + SHA256.hash(data: raw).prefix(8).map { hex($0) }.joined()
    }

    public var fileText: String { "portdoctor-public-key ed25519 \(Data(raw).base64EncodedString()) \(name)\n" }

    public static func parse(_ text: String, file: String) throws(PackArchiveError) -> PublisherKey {
        let (raw, name) = try KeyFile.parse(text, kind: "portdoctor-public-key", file: file)
        guard (try? Curve25519.Signing.PublicKey(rawRepresentation: raw)) != nil else {
            throw .badKey("\(file): not an Ed25519 public key")
        }
        return PublisherKey(name: name, raw: raw)
    }
}

/// A publisher's secret key. File format (one line, the file readable by its owner only):
/// `portdoctor-secret-key ed25519 BASE64 NAME…`.
public struct SigningKey {
    public var name: String
    let key: Curve25519.Signing.PrivateKey

    public static func generate(name: String) -> SigningKey {
        SigningKey(name: name, key: Curve25519.Signing.PrivateKey())
    }

    public var publicKey: PublisherKey { PublisherKey(name: name, raw: Array(key.publicKey.rawRepresentation)) }

    public var fileText: String {
        "portdoctor-secret-key ed25519 \(key.rawRepresentation.base64EncodedString()) \(name)\n"
    }

    public static func parse(_ text: String, file: String) throws(PackArchiveError) -> SigningKey {
        let (raw, name) = try KeyFile.parse(text, kind: "portdoctor-secret-key", file: file)
        guard let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: raw) else {
            throw .badKey("\(file): not an Ed25519 secret key")
        }
        return SigningKey(name: name, key: key)
    }

    func sign(_ bytes: [UInt8]) throws(PackArchiveError) -> [UInt8] {
        do { return Array(try key.signature(for: bytes)) } catch { throw .badKey("signing failed: \(error)") }
    }
}

enum KeyFile {
    static func parse(_ text: String, kind: String, file: String) throws(PackArchiveError) -> ([UInt8], String) {
        // One line; a file edited by hand may end with a newline or a CRLF.
        let line = text.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }).first.map(String.init) ?? ""
        let parts = line.trimmed.split(
            separator: " ", maxSplits: 3, omittingEmptySubsequences: true)
        guard parts.count >= 3, parts[0] == kind, parts[1] == "ed25519",
            let raw = Data(base64Encoded: String(parts[2])), raw.count == 32
        else {
            let other = kind.contains("public") ? "a secret key" : "a public key"
            if parts.first.map({ $0.hasPrefix("portdoctor-") && $0 != kind }) == true {
                throw .badKey("\(file) holds \(other), not a \(kind.dropFirst("portdoctor-".count).replacing("-", with: " "))")
            }
            throw .badKey("\(file) is not a portdoctor key file (\(kind) ed25519 BASE64 NAME)")
        }
        return (Array(raw), parts.count > 3 ? String(parts[3]) : "")
    }
}

func hex(_ byte: UInt8) -> String {
    let s = String(byte, radix: 16)
    return s.count == 1 ? "0" + s : s
}

/// The signed part of an archive: what the pack is, who signed it, and each file's SHA-256.
///
///     portdoctor-pack 1
///     id router-checks
///     version 1.2.0
///     publisher ACME Routers
///     key ed25519 BASE64
///     file SHA256HEX SIZE PATH
///
/// `publisher` and `key` are absent in an unsigned archive. The lines are in this order, the files
/// sorted by path: the text is deterministic, so the same pack signed twice gives the same archive.
public struct ArchiveManifest: Sendable, Equatable {
    public struct File: Sendable, Equatable {
        public var path: String
        public var sha256: String
        public var size: Int
    }

    public var id: String
    public var version: String
    public var publisher: PublisherKey?
    public var files: [File]

    static let magic = "portdoctor-pack 1"

    var text: String {
        var lines = [Self.magic, "id \(id)", "version \(version)"]
        if let publisher {
            lines.append("publisher \(publisher.name)")
            lines.append("key ed25519 \(Data(publisher.raw).base64EncodedString())")
        }
        for f in files { lines.append("file \(f.sha256) \(f.size) \(f.path)") }
        return lines.joined(separator: "\n") + "\n"
    }

    static func parse(_ text: String) throws(PackArchiveError) -> ArchiveManifest {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard lines.last == "" else { throw .malformed("its manifest does not end with a newline") }
        lines.removeLast()
        guard lines.first == magic else { throw .malformed("its manifest does not start with '\(magic)'") }
        var m = ArchiveManifest(id: "", version: "", publisher: nil, files: [])
        var publisherName: String?
        var key: [UInt8]?
        for line in lines.dropFirst() {
            let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw .malformed("manifest line '\(line)' has no value") }
            switch parts[0] {
            case "id": m.id = parts[1]
            case "version": m.version = parts[1]
            case "publisher": publisherName = parts[1]
            case "key":
                guard parts[1].hasPrefix("ed25519 "), let raw = Data(base64Encoded: String(parts[1].dropFirst(8))),
                    raw.count == 32
                else { throw .malformed("manifest line '\(line)' is not an Ed25519 key") }
                key = Array(raw)
            case "file":
                let f = parts[1].split(separator: " ", maxSplits: 2).map(String.init)
                guard f.count == 3, f[0].count == 64, let size = Int(f[1]), size >= 0 else {
                    throw .malformed("manifest line '\(line)' is not 'file SHA256 SIZE PATH'")
                }
                m.files.append(File(path: f[2], sha256: f[0], size: size))
            default: throw .malformed("manifest line '\(line)' is not understood")
            }
        }
        guard !m.id.isEmpty, !m.version.isEmpty else { throw .malformed("its manifest has no id or version") }
        if let key { m.publisher = PublisherKey(name: publisherName ?? "", raw: key) }
        guard m.text == text else { throw .malformed("its manifest is not in portdoctor's form (changed?)") }
        return m
    }
}

/// A pack archive, checked: every file matches the manifest, and the signature (when there is one)
/// is the publisher key's over the manifest. Whether that key is trusted is the trust store's question.
public struct VerifiedArchive: Sendable {
    public var manifest: ArchiveManifest
    /// Relative path → bytes.
    public var files: [String: [UInt8]]
    /// SHA-256 of the whole archive file, recorded with an install.
    public var archiveSHA256: String
    public var isSigned: Bool { manifest.publisher != nil }
}

/// The archive format: a canonical tar holding `MANIFEST` (the text above), `SIGNATURE` (Ed25519
/// over the manifest's bytes, base64, only when signed) and the pack's files under `pack/`.
public enum PackArchive {
    public static let fileExtension = "pdpack"
    static let maxArchiveBytes = 32 << 20

    /// Files of a pack folder that go into an archive: every regular file, except hidden ones
    /// (`.luarc.json`, the `.luals/` stubs, editor files), which are the author's, not the pack's.
    public static func collect(directory: URL) throws(PackArchiveError) -> [String: [UInt8]] {
        var files: [String: [UInt8]] = [:]
        func walk(_ dir: URL, prefix: String, depth: Int) throws(PackArchiveError) {
            guard depth < 16 else { throw .refused("\(dir.path): folders nested too deep (a link loop?)") }
            guard let entries = try? FileManager.default.contentsOfDirectory(atPath: dir.path) else {
                throw .refused("cannot read the folder \(dir.path)")
            }
            for entry in entries.sorted() where !entry.hasPrefix(".") {
                let url = dir.appendingPathComponent(entry)
                var info = stat()
                guard stat(url.path, &info) == 0 else { continue }
                if info.st_mode & S_IFMT == S_IFDIR {
                    try walk(url, prefix: prefix + entry + "/", depth: depth + 1)
                } else if info.st_mode & S_IFMT == S_IFREG {
                    guard let data = try? Data(contentsOf: url) else { throw .refused("cannot read \(url.path)") }
                    files[prefix + entry] = Array(data)
                }
            }
        }
        try walk(directory, prefix: "", depth: 0)
        return files
    }

    /// Builds the archive; signed when a key is given.
    public static func create(
        id: String, version: String, files: [String: [UInt8]], key: SigningKey?
    ) throws(PackArchiveError) -> [UInt8] {
        for path in files.keys { try checkPath(path) }
        let listed = files.keys.sorted().map { path in
            ArchiveManifest.File(
                path: path, sha256: sha256Hex(files[path]!), size: files[path]!.count)
        }
        let manifest = ArchiveManifest(id: id, version: version, publisher: key?.publicKey, files: listed)
        let text = Array(manifest.text.utf8)
        var entries = [CanonicalTar.Entry(name: "MANIFEST", data: text)]
        if let key {
            entries.append(
                CanonicalTar.Entry(name: "SIGNATURE", data: Array((Data(try key.sign(text)).base64EncodedString() + "\n").utf8)))
        }
        for f in listed { entries.append(CanonicalTar.Entry(name: "pack/" + f.path, data: files[f.path]!)) }
        return try CanonicalTar.write(entries)
    }

    /// Reads and checks an archive. A signature that does not verify, a file that does not match its
    /// hash, a file missing or one too many: all refused, with no way around it.
    public static func verify(_ bytes: [UInt8]) throws(PackArchiveError) -> VerifiedArchive {
        guard bytes.count <= maxArchiveBytes else { throw .malformed("larger than \(maxArchiveBytes >> 20) MiB") }
        var entries = try CanonicalTar.read(bytes)
        guard let first = entries.first, first.name == "MANIFEST",
            let text = String(validating: first.data, as: UTF8.self)
        else { throw .malformed("it does not start with a MANIFEST") }
        entries.removeFirst()
        let manifest = try ArchiveManifest.parse(text)
        if let key = manifest.publisher {
            guard let sig = entries.first, sig.name == "SIGNATURE" else {
                throw .tampered("it names a publisher key but has no SIGNATURE")
            }
            entries.removeFirst()
            let b64 = String(decoding: sig.data, as: UTF8.self)
            guard b64.hasSuffix("\n"), let signature = Data(base64Encoded: String(b64.dropLast())),
                Data((signature.base64EncodedString() + "\n").utf8) == Data(sig.data),
                let publicKey = try? Curve25519.Signing.PublicKey(rawRepresentation: key.raw),
                publicKey.isValidSignature(signature, for: first.data)
            else { throw .tampered("the signature does not match the manifest") }
        }
        let names = entries.map(\.name)
        guard names == manifest.files.map({ "pack/" + $0.path }) else {
            throw .tampered("its files are not the ones its manifest lists")
        }
        var files: [String: [UInt8]] = [:]
        for (entry, listed) in zip(entries, manifest.files) {
            try checkPath(listed.path)
            guard entry.data.count == listed.size, sha256Hex(entry.data) == listed.sha256 else {
                throw .tampered("\(listed.path) does not match its SHA-256 in the manifest")
            }
            files[listed.path] = entry.data
        }
        guard files["pack.lua"] != nil else { throw .malformed("it holds no pack.lua") }
        return VerifiedArchive(manifest: manifest, files: files, archiveSHA256: sha256Hex(bytes))
    }

    /// Paths stay inside the pack folder: relative, no `..`, no hidden parts, plain characters.
    static func checkPath(_ path: String) throws(PackArchiveError) {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        let plain = path.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_./+@".contains($0)) }
        guard plain, !path.hasPrefix("/"), !parts.contains(where: { $0.isEmpty || $0.hasPrefix(".") }) else {
            throw .malformed("the path '\(path)' is not a plain relative path inside the pack")
        }
    }

    static func sha256Hex(_ bytes: [UInt8]) -> String { SHA256.hash(data: bytes).map { hex($0) }.joined() }
}
