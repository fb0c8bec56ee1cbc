import Doctor
import Foundation
import Testing

/// `pack install` / `remove` / `trust` on real folders in a temporary HOME.
@Suite final class PackInstallerTests {
    let home: String
    let directories: UserDirectories

    init() throws {
        home = NSTemporaryDirectory() + "pd-install-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        directories = UserDirectories(environment: ["HOME": home])!
    }

    /// The temporary folders go, whatever the outcome.
    deinit { try? FileManager.default.removeItem(atPath: home) }

    func trust(_ key: SigningKey = PackSigningTests.key) throws {
        try TrustStore(directory: directories.trustedKeys).add(key.publicKey, name: "acme")
    }

    /// The installed pack's files as the catalog finds them on the search path.
    func installedPack() -> PackFolder? {
        PackCatalog.discover(environment: ["HOME": home], bundled: [:]).pack(named: "demo")
    }

    func installedVersion() -> String? {
        PackInstaller(directories: directories).installed().first { $0.record.id == "demo" }?.record.version
    }

    @Test func aTrustedPackInstallsOntoTheSearchPath() throws {
        try trust()
        let outcome = try PackInstaller(directories: directories).install(try PackSigningTests.archive())
        #expect(outcome.trust == .trusted("acme"))
        let found = try #require(installedPack())
        #expect(found.files["one.lua"] != nil)
        #expect(found.files.keys.allSatisfy { !$0.hasPrefix(".") })
        let record = try #require(PackInstaller(directories: directories).installed().first)
        #expect(record.record.publisher == "ACME Routers" && record.record.trust == "trusted")
        #expect(record.trustNow == .trusted("acme"))
    }

    @Test func anUnknownKeyIsRefusedUnlessAllowedOrConfirmed() throws {
        let installer = PackInstaller(directories: directories)
        let bytes = try PackSigningTests.archive()
        #expect {
            try installer.install(bytes)
        } throws: { error in
            "\(error)".contains("not in your trust store") && "\(error)".contains("--allow-untrusted")
        }
        var asked: [String] = []
        var options = PackInstaller.Options()
        options.confirm = { asked.append($0); return false }
        #expect(throws: PackArchiveError.self) { try installer.install(bytes, options: options) }
        #expect(asked.count == 1 && asked[0].contains(PackSigningTests.key.publicKey.fingerprint))
        #expect(installedPack() == nil)
        options.confirm = { _ in true }
        #expect(try installer.install(bytes, options: options).trust == .untrusted)
        #expect(installedVersion() == "1.0.0")
    }

    @Test func anUnsignedPackNeedsTheFlag() throws {
        let installer = PackInstaller(directories: directories)
        let bytes = try PackSigningTests.archive(key: nil)
        #expect { try installer.install(bytes) } throws: { "\($0)".contains("is not signed") }
        var options = PackInstaller.Options()
        options.allowUntrusted = true
        #expect(try installer.install(bytes, options: options).trust == .unsigned)
    }

    @Test func aTamperedArchiveIsRefusedEvenWithTheFlagAndTheInstalledPackStays() throws {
        try trust()
        let installer = PackInstaller(directories: directories)
        try installer.install(try PackSigningTests.archive(version: "1.0.0"))
        var bytes = try PackSigningTests.archive(version: "1.1.0")
        let at = try #require(String(decoding: bytes, as: UTF8.self).range(of: "pass(")).lowerBound.utf16Offset(
            in: String(decoding: bytes, as: UTF8.self))
        bytes[at] = UInt8(ascii: "f")
        var options = PackInstaller.Options()
        options.allowUntrusted = true
        options.allowDowngrade = true
        #expect { try installer.install(bytes, options: options) } throws: { "\($0)".contains("SHA-256") }
        #expect(installedVersion() == "1.0.0")
        #expect(installedPack()?.files["one.lua"]?.contains("pass(") == true)
    }

    @Test func aNewerVersionReplacesAndADowngradeIsRefused() throws {
        try trust()
        let installer = PackInstaller(directories: directories)
        try installer.install(try PackSigningTests.archive(version: "1.0.0"))
        let up = try installer.install(try PackSigningTests.archive(version: "1.2.0"))
        #expect(up.previousVersion == "1.0.0" && installedVersion() == "1.2.0")
        #expect { try installer.install(try PackSigningTests.archive(version: "1.1.0")) } throws: {
            "\($0)".contains("--allow-downgrade")
        }
        #expect(installedVersion() == "1.2.0")
        var options = PackInstaller.Options()
        options.allowDowngrade = true
        try installer.install(try PackSigningTests.archive(version: "1.1.0"), options: options)
        #expect(installedVersion() == "1.1.0")
        // Replaced versions leave nothing behind.
        let store = try FileManager.default.contentsOfDirectory(atPath: directories.installedPacks + "/.store")
        #expect(store.count == 1)
    }

    @Test func anInstallInterruptedBeforeTheSwitchLeavesTheOldPackWorking() throws {
        try trust()
        try PackInstaller(directories: directories).install(try PackSigningTests.archive(version: "1.0.0"))
        // 2.0.0 is staged in full, then the install stops before the switch, leaving its files behind.
        struct Interrupted: Error {}
        var installer = PackInstaller(directories: directories)
        installer.beforeCommit = { throw Interrupted() }
        #expect(throws: PackArchiveError.self) { try installer.install(try PackSigningTests.archive(version: "2.0.0")) }
        let store = directories.installedPacks + "/.store"
        #expect(try FileManager.default.contentsOfDirectory(atPath: store).contains { $0.hasPrefix("demo@2.0.0-") })
        // The old pack is the one on the search path, whole, and it loads and runs.
        #expect(installedVersion() == "1.0.0")
        let folder = try #require(installedPack())
        let report = try runPack(folder)
        #expect(report.packVersion == "1.0.0" && report.findings.map(\.status) == [.pass])
        // A crash can also leave a half-written staging folder and a link never renamed.
        try FileManager.default.createDirectory(atPath: store + "/demo@3.0.0-x.partial", withIntermediateDirectories: true)
        try "return pack {".write(toFile: store + "/demo@3.0.0-x.partial/pack.lua", atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(
            atPath: directories.installedPacks + "/.link-demo-x", withDestinationPath: ".store/demo@3.0.0-x.partial")
        #expect(installedPack()?.files["pack.lua"]?.contains("1.0.0") == true)
        // The next install clears what the interruptions left and goes through.
        installer.beforeCommit = nil
        try installer.install(try PackSigningTests.archive(version: "2.0.0"))
        #expect(installedVersion() == "2.0.0")
        #expect(try FileManager.default.contentsOfDirectory(atPath: store).count == 1)
        #expect(!(try FileManager.default.contentsOfDirectory(atPath: directories.installedPacks)).contains { $0.hasPrefix(".link-") })
    }

    /// Loads and runs a pack folder as `portdoctor run` does.
    func runPack(_ folder: PackFolder) throws -> Report {
        let catalog = PackCatalog(packs: [folder])
        var request = DiagnosisRequest(pack: "demo")
        request.platform = .linux
        guard case .ready(let diagnosis) = try Diagnosis.prepare(request, catalog: catalog) else {
            throw PackArchiveError.malformed("the installed pack does not load")
        }
        return diagnosis.run()
    }

    @Test func removeTakesThePackOffTheSearchPath() throws {
        try trust()
        let installer = PackInstaller(directories: directories)
        try installer.install(try PackSigningTests.archive())
        try installer.remove(id: "demo")
        #expect(installedPack() == nil)
        #expect { try installer.remove(id: "demo") } throws: { "\($0)".contains("no installed pack") }
    }

    @Test func theTrustStoreRefusesDuplicatesAndBadNames() throws {
        let store = TrustStore(directory: directories.trustedKeys)
        try store.add(PackSigningTests.key.publicKey, name: "acme")
        #expect(throws: PackArchiveError.self) { try store.add(PackSigningTests.key.publicKey, name: "other") }
        #expect(throws: PackArchiveError.self) { try store.add(SigningKey.generate(name: "x").publicKey, name: "acme") }
        #expect(throws: PackArchiveError.self) { try store.add(SigningKey.generate(name: "x").publicKey, name: "../x") }
        #expect(store.entries().map(\.name) == ["acme"])
        #expect { try store.remove(name: "acm") } throws: { "\($0)".contains("did you mean 'acme'") }
        try store.remove(name: "acme")
        #expect(store.entries().isEmpty)
    }
}
