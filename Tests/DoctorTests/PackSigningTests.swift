import Doctor
import Foundation
import Testing

/// Signed archives: what `pack sign` writes, what `pack verify` and `pack install` accept.
@Suite struct PackSigningTests {
    static let files: [String: [UInt8]] = [
        "pack.lua": Array(
            """
            return pack { id = "demo", version = "1.0.0", title = "Demo", steps = { "one" } }

            """.utf8),
        "one.lua": Array("return check { title = \"One\", run = function(ctx) return pass(\"ok\") end }\n".utf8),
        "tests/one.json": Array("{\"name\": \"one\"}\n".utf8),
    ]

    static func archive(version: String = "1.0.0", key: SigningKey? = key) throws -> [UInt8] {
        var f = files
        f["pack.lua"] = Array(String(decoding: f["pack.lua"]!, as: UTF8.self).replacing("1.0.0", with: version).utf8)
        return try PackArchive.create(id: "demo", version: version, files: f, key: key)
    }

    nonisolated(unsafe) static let key = SigningKey.generate(name: "ACME Routers")

    @Test func aSignedArchiveVerifiesAndHoldsTheFiles() throws {
        let bytes = try Self.archive()
        let v = try PackArchive.verify(bytes)
        #expect(v.manifest.id == "demo" && v.manifest.version == "1.0.0")
        #expect(v.manifest.publisher == Self.key.publicKey)
        #expect(v.files == Self.files)
        // Deterministic: the same pack and key give the same bytes.
        #expect(try Self.archive() == bytes)
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/tar")))
    func standardTarReadsTheArchive() throws {
        let path = NSTemporaryDirectory() + "pd-tar-\(UUID().uuidString).pdpack"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(try Self.archive()).write(to: URL(fileURLWithPath: path))
        let tar = Process()
        tar.executableURL = URL(fileURLWithPath: "/usr/bin/tar")
        tar.arguments = ["-xOf", path, "pack/one.lua"]
        let out = Pipe()
        tar.standardOutput = out
        try tar.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        tar.waitUntilExit()
        #expect(tar.terminationStatus == 0)
        #expect(Array(data) == Self.files["one.lua"])
    }

    @Test func everySingleFlippedByteIsRefused() throws {
        let bytes = try Self.archive()
        // Every byte is either signed content or checked structure (headers, padding, the end).
        var accepted: [Int] = []
        for i in bytes.indices {
            var changed = bytes
            changed[i] ^= 0x01
            if (try? PackArchive.verify(changed)) != nil { accepted.append(i) }
        }
        #expect(accepted.isEmpty, "flipping these offsets went unnoticed: \(accepted.prefix(10))")
    }

    @Test func aFileChangedAndResignedWithAnotherKeyIsNoLongerTheSamePublisher() throws {
        let other = SigningKey.generate(name: "ACME Routers")
        let forged = try PackArchive.verify(try Self.archive(key: other))
        #expect(forged.manifest.publisher?.name == "ACME Routers")
        #expect(forged.manifest.publisher?.fingerprint != Self.key.publicKey.fingerprint)
    }

    @Test func truncatedOrExtendedArchivesAreRefused() throws {
        let bytes = try Self.archive()
        #expect(throws: PackArchiveError.self) { try PackArchive.verify(Array(bytes.dropLast(512))) }
        #expect(throws: PackArchiveError.self) { try PackArchive.verify(bytes + [UInt8](repeating: 0, count: 512)) }
        #expect(throws: PackArchiveError.self) { try PackArchive.verify(Array("not a pack".utf8)) }
    }

    @Test func pathsLeavingThePackAreRefused() {
        for bad in ["../evil.lua", "/etc/passwd", "lib/../../x.lua", ".hidden.lua", "a//b.lua"] {
            #expect(throws: PackArchiveError.self, "\(bad)") {
                try PackArchive.create(id: "demo", version: "1", files: ["pack.lua": [], bad: []], key: nil)
            }
        }
    }

    @Test func keyFilesRoundTripAndAreNotMistakenForEachOther() throws {
        let secret = try SigningKey.parse(Self.key.fileText, file: "k.key")
        #expect(secret.publicKey == Self.key.publicKey)
        let pub = try PublisherKey.parse(Self.key.publicKey.fileText, file: "k.pub")
        #expect(pub.name == "ACME Routers")
        #expect(throws: PackArchiveError.self) { try PublisherKey.parse(Self.key.fileText, file: "k.key") }
        #expect(throws: PackArchiveError.self) { try SigningKey.parse(pub.fileText, file: "k.pub") }
    }

    @Test func versionsCompareAsPeopleReadThem() {
        #expect(PackVersion.compare("1.10.0", "1.9.2") == .orderedDescending)
        #expect(PackVersion.compare("1.0", "1.0.0") == .orderedSame)
        #expect(PackVersion.compare("1.0.0-beta", "1.0.0") == .orderedAscending)
        #expect(PackVersion.compare("0.9", "1.0") == .orderedAscending)
    }
}
