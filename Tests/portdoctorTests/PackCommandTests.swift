import Foundation
import TestSupport
import Testing

/// `portdoctor pack …` on the release binary, with HOME and the XDG folders in temporary folders:
/// an author's whole path (new → edit → run → keygen → sign) and a user's (trust → install → run),
/// and each refusal (a changed byte, an unknown key, a downgrade, an interrupted install).
@Suite final class PackCommandTests {
    struct Run {
        var status: Int32
        var signalled: Bool
        var stdout: String
        var stderr: String
        var all: String { stdout + stderr }
    }

    let work: String

    init() throws {
        work = NSTemporaryDirectory() + "pd-pack-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
    }

    /// The temporary folders go, whatever the outcome.
    deinit { try? FileManager.default.removeItem(atPath: work) }

    /// A clean HOME of its own for each person in a test.
    func home(_ name: String) throws -> [String: String] {
        let h = work + "/home-" + name
        try FileManager.default.createDirectory(atPath: h, withIntermediateDirectories: true)
        return ["HOME": h]
    }

    func portdoctor(_ arguments: [String], _ environment: [String: String], cwd: String? = nil) throws -> Run {
        #expect(ReleaseBinary.problem == nil, "\(ReleaseBinary.problem ?? "")")
        let process = Process()
        process.executableURL = ReleaseBinary.url
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for k in ["XDG_CONFIG_HOME", "XDG_DATA_HOME", "PORTDOCTOR_PATH"] { env[k] = nil }
        env.merge(environment) { $1 }
        process.environment = env
        process.currentDirectoryURL = URL(fileURLWithPath: cwd ?? work)
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice  // not a terminal: nothing is asked
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(
            status: process.terminationStatus, signalled: process.terminationReason == .uncaughtSignal,
            stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
    }

    func setVersion(_ version: String, in pack: String) throws {
        let path = pack + "/pack.lua"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let updated = text.replacing(/version = "[^"]*"/, with: "version = \"\(version)\"")
        try updated.write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// The report's pack version, from `run ID --format json`.
    func runVersion(_ id: String, _ env: [String: String]) throws -> (Int32, String?) {
        let r = try portdoctor(["run", id, "--format", "json"], env)
        let json = try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        return (r.status, json?["version"] as? String)
    }

    @Test func anAuthorsPackGoesFromNewToRunningOnAnotherHome() throws {
        let author = try home("author")
        // new: lints clean and runs as it is.
        var r = try portdoctor(["pack", "new", "acme-router"], author)
        #expect(r.status == 0, "\(r.all)")
        let pack = work + "/acme-router"
        r = try portdoctor(["pack", "lint", pack], author)
        #expect(r.status == 0 && r.stdout.contains("0 errors, 0 warnings"), "\(r.all)")
        r = try portdoctor(["run", pack], author)
        #expect(r.status == 0, "\(r.all)")
        #expect(FileManager.default.fileExists(atPath: pack + "/.luals/portdoctor.lua"))
        r = try portdoctor(["pack", "test", pack], author)
        #expect(r.status == 0 && r.all.contains("1 passed, 0 failed"), "\(r.all)")

        // edit: a second rule, and a typo lint catches with its line.
        let check = pack + "/port-range.lua"
        var text = try String(contentsOfFile: check, encoding: .utf8)
        text = text.replacing(
            "    return pass(\"port %d is above the system range\", port)",
            with: """
                    if port == 4444 then return warn { summary = "4444 is often blocked", cause = "filtered-upstream" } end
                    return pass("port %d is above the system range", ctx.params.prot)
                """)
        try text.write(toFile: check, atomically: true, encoding: .utf8)
        r = try portdoctor(["pack", "lint", pack], author)
        #expect(r.status == 2 && r.stdout.contains("acme-router/port-range.lua:") && r.stdout.contains("did you mean 'port'"), "\(r.all)")
        try text.replacing("ctx.params.prot", with: "port").write(toFile: check, atomically: true, encoding: .utf8)
        r = try portdoctor(["pack", "lint", pack], author)
        #expect(r.status == 0, "\(r.all)")
        // test it by running it: the new rule, and the one the scaffold came with.
        r = try portdoctor(["run", pack, "--param", "port=4444", "--format", "json"], author)
        #expect(r.status == 0 && r.stdout.contains("\"filtered-upstream\""), "\(r.all)")
        r = try portdoctor(["run", pack, "--param", "port=80", "--format", "json"], author)
        #expect(r.status == 1 && r.stdout.contains("\"port-reserved\""), "\(r.all)")
        // and by its test cases: one more, for the new rule, with a replayed answer of none.
        try """
            { "description": "4444 warns", "parameters": { "port": "4444" }, "calls": [],
              "expect": { "checks": { "port-range": { "status": "warn", "cause": "filtered-upstream" } } } }
            """.write(toFile: pack + "/tests/often-blocked.json", atomically: true, encoding: .utf8)
        r = try portdoctor(["pack", "test", pack], author)
        #expect(r.status == 0 && r.all.contains("2 passed, 0 failed"), "\(r.all)")

        // keygen, sign.
        r = try portdoctor(["pack", "keygen", "--name", "ACME Routers", "--out", work + "/acme"], author)
        #expect(r.status == 0, "\(r.all)")
        let mode = try FileManager.default.attributesOfItem(atPath: work + "/acme.key")[.posixPermissions] as? Int
        #expect(mode == 0o600)
        r = try portdoctor(["pack", "sign", pack, "--key", work + "/acme.key"], author)
        #expect(r.status == 0, "\(r.all)")
        let archive = work + "/acme-router-0.1.0.pdpack"
        #expect(FileManager.default.fileExists(atPath: archive))

        // A user with a clean HOME: trust the key, install, run by id.
        let user = try home("user")
        r = try portdoctor(["pack", "verify", archive], user)
        #expect(r.status == 1 && r.stdout.contains("untrusted"), "\(r.all)")
        r = try portdoctor(["pack", "trust", "add", work + "/acme.pub", "--name", "acme"], user)
        #expect(r.status == 0, "\(r.all)")
        r = try portdoctor(["pack", "verify", archive], user)
        #expect(r.status == 0 && r.stdout.contains("trusted (acme)"), "\(r.all)")
        r = try portdoctor(["pack", "install", archive], user)
        #expect(r.status == 0 && r.stdout.contains("installed acme-router 0.1.0"), "\(r.all)")
        let (status, version) = try runVersion("acme-router", user)
        #expect(status == 0 && version == "0.1.0")
        r = try portdoctor(["pack", "list"], user)
        #expect(r.stdout.contains("crashplan") && r.stdout.contains("bundled"), "\(r.all)")
        #expect(r.stdout.contains("acme-router") && r.stdout.contains("trusted (acme)") && r.stdout.contains("ACME Routers"))
        // Bundled packs stay; installed ones go.
        r = try portdoctor(["pack", "remove", "crashplan"], user)
        #expect(r.status == 2 && r.stderr.contains("bundled"), "\(r.all)")
        r = try portdoctor(["pack", "remove", "acme-router"], user)
        #expect(r.status == 0, "\(r.all)")
        r = try portdoctor(["run", "acme-router"], user)
        #expect(r.status == 2 && r.stderr.contains("no pack named"), "\(r.all)")
    }

    /// An author's signed pack at two versions, and a user who trusts the key and has 0.2.0 installed.
    func installedTwoVersions() throws -> (pack: String, user: [String: String], old: String) {
        let author = try home("author")
        #expect(try portdoctor(["pack", "new", "acme-router"], author).status == 0)
        #expect(try portdoctor(["pack", "keygen", "--name", "ACME", "--out", work + "/acme"], author).status == 0)
        let pack = work + "/acme-router"
        try setVersion("0.1.0", in: pack)
        #expect(try portdoctor(["pack", "sign", pack, "--key", work + "/acme.key", "-o", work + "/old.pdpack"], author).status == 0)
        try setVersion("0.2.0", in: pack)
        #expect(try portdoctor(["pack", "sign", pack, "--key", work + "/acme.key", "-o", work + "/new.pdpack"], author).status == 0)
        let user = try home("user")
        #expect(try portdoctor(["pack", "trust", "add", work + "/acme.pub", "--name", "acme"], user).status == 0)
        let r = try portdoctor(["pack", "install", work + "/new.pdpack"], user)
        #expect(r.status == 0, "\(r.all)")
        return (pack, user, work + "/old.pdpack")
    }

    @Test func aChangedByteAnUnknownKeyAndADowngradeAreRefusedAndTheInstalledPackStays() throws {
        let (pack, user, old) = try installedTwoVersions()
        // One byte changed in a file inside the archive.
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: old)))
        let needle = Array("default = 4242".utf8)
        let at = try #require(bytes.indices.first { Array(bytes[$0..<min($0 + needle.count, bytes.count)]) == needle })
        bytes[at + needle.count - 1] = UInt8(ascii: "3")  // 4242 → 4243 in pack.lua
        try Data(bytes).write(to: URL(fileURLWithPath: work + "/changed.pdpack"))
        var r = try portdoctor(["pack", "install", work + "/changed.pdpack", "--allow-untrusted", "--allow-downgrade"], user)
        #expect(r.status == 2 && r.stderr.contains("changed after it was signed"), "\(r.all)")
        r = try portdoctor(["pack", "verify", work + "/changed.pdpack"], user)
        #expect(r.status == 2, "\(r.all)")

        // A key the user never added.
        #expect(try portdoctor(["pack", "keygen", "--name", "ACME", "--out", work + "/mallory"], user).status == 0)
        try setVersion("9.0.0", in: pack)
        #expect(try portdoctor(["pack", "sign", pack, "--key", work + "/mallory.key", "-o", work + "/other.pdpack"], user).status == 0)
        r = try portdoctor(["pack", "install", work + "/other.pdpack"], user)
        #expect(r.status == 2 && r.stderr.contains("not in your trust store") && r.stderr.contains("--allow-untrusted"), "\(r.all)")
        // Unsigned: the same.
        #expect(try portdoctor(["pack", "sign", pack, "--unsigned", "-o", work + "/unsigned.pdpack"], user).status == 0)
        r = try portdoctor(["pack", "install", work + "/unsigned.pdpack"], user)
        #expect(r.status == 2 && r.stderr.contains("is not signed"), "\(r.all)")

        // An older version.
        r = try portdoctor(["pack", "install", old], user)
        #expect(r.status == 2 && r.stderr.contains("--allow-downgrade"), "\(r.all)")

        let (status, version) = try runVersion("acme-router", user)
        #expect(status == 0 && version == "0.2.0")
    }

    @Test func anInstallKilledBeforeTheSwitchLeavesTheOldPackWorking() throws {
        let (pack, user, _) = try installedTwoVersions()
        try setVersion("0.3.0", in: pack)
        #expect(try portdoctor(["pack", "sign", pack, "--key", work + "/acme.key", "-o", work + "/next.pdpack"], user).status == 0)
        var env = user
        env["PORTDOCTOR_TEST_KILL_BEFORE_COMMIT"] = "1"
        var r = try portdoctor(["pack", "install", work + "/next.pdpack"], env)
        #expect(r.signalled && r.status == SIGKILL, "\(r.all)")
        var (status, version) = try runVersion("acme-router", user)
        #expect(status == 0 && version == "0.2.0")
        r = try portdoctor(["pack", "list", "--format", "json"], user)
        #expect(r.stdout.contains("\"0.2.0\"") && !r.stdout.contains("\"0.3.0\""), "\(r.all)")
        // Installing again completes the update.
        r = try portdoctor(["pack", "install", work + "/next.pdpack"], user)
        #expect(r.status == 0 && r.stdout.contains("(was 0.2.0)"), "\(r.all)")
        (status, version) = try runVersion("acme-router", user)
        #expect(status == 0 && version == "0.3.0")
    }

    @Test func lintErrorsExitTwoWithFileAndLine() throws {
        let env = try home("author")
        #expect(try portdoctor(["pack", "new", "typo"], env).status == 0)
        let manifest = work + "/typo/pack.lua"
        let text = try String(contentsOfFile: manifest, encoding: .utf8)
        try text.replacing("default = 4242", with: "defualt = 4242").write(toFile: manifest, atomically: true, encoding: .utf8)
        let r = try portdoctor(["pack", "lint", work + "/typo"], env)
        #expect(r.status == 2, "\(r.all)")
        #expect(r.stdout.contains("typo/pack.lua:") && r.stdout.contains("'defualt'") && r.stdout.contains("did you mean 'default'"), "\(r.all)")
        // A pack with errors is not signed.
        #expect(try portdoctor(["pack", "keygen", "--name", "x", "--out", work + "/k"], env).status == 0)
        let s = try portdoctor(["pack", "sign", work + "/typo", "--key", work + "/k.key"], env)
        #expect(s.status == 2 && s.stderr.contains("not signed"), "\(s.all)")
    }
}
