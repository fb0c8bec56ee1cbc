import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `run --with` against `listen --pair`: two release binaries on loopback (Docs/pairing-protocol.md).
extension CommandLineTests {
    /// `portdoctor listen --pair` on loopback, and the code it printed.
    final class PairingListener {
        let process = Process()
        let port: UInt16
        let code: String

        init(extra: [String] = []) throws {
            port = try Loopback.freeTCPPort()
            process.executableURL = CommandLineTests.binary
            process.arguments =
                ["listen", "--port", String(port), "--address", "127.0.0.1", "--per-minute", "100"]
                + (extra.isEmpty ? ["--pair"] : extra)
            var env = ProcessInfo.processInfo.environment
            env["HOME"] = NSTemporaryDirectory() + "portdoctor-home-\(UUID().uuidString)"
            env["PORTDOCTOR_PATH"] = nil
            process.environment = env
            let out = Pipe()
            process.standardOutput = out
            process.standardError = FileHandle.nullDevice
            try process.run()
            // The code is the first line on standard output ("pairing code: XXXX-XXXX"); none with a token.
            var text = ""
            if extra.isEmpty {
                let reader = out.fileHandleForReading
                let deadline = Date().addingTimeInterval(30)
                while !text.contains("\n") && Date() < deadline && process.isRunning {
                    text += String(decoding: reader.availableData, as: UTF8.self)
                }
            }
            code = text.split(separator: "\n").first.map { String($0.split(separator: " ").last ?? "") } ?? ""
            Loopback.waitUntilAccepting(port, seconds: 30) { self.process.isRunning }
        }

        func stop() {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    @Test func pairedRunNamesTheComputerToFixFromTheSource() throws {
        let peer = try PairingListener()
        defer { peer.stop() }
        #expect(peer.code.count == 9, "code: '\(peer.code)'")
        let servicePort = try Loopback.freeTCPPort()
        let r = try portdoctor([
            "run", "crashplan", "--with", "127.0.0.1:\(peer.port)", "--code", peer.code, "--param", "role=source",
            "--param", "port=\(servicePort)", "--format", "json",
        ])
        #expect(r.status == 1, "\(r.stderr)")
        let root = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(r)")
        let pairing = try #require(root["pairing"] as? [String: Any], "\(root.keys.sorted())")
        // Nothing listens on the destination (no backup service here): it is the destination to fix,
        // told from the destination's own findings.
        #expect(pairing["fix"] as? String == "destination", "\(pairing)")
        #expect((pairing["connect"] as? [String: Any])?["status"] as? String == "refused", "\(pairing)")
        let checks = try #require(root["checks"] as? [[String: Any]])
        let sides = Set(checks.compactMap { $0["side"] as? String })
        #expect(sides == ["source", "destination"], "\(sides)")
        #expect(checks.allSatisfy { $0["computer"] is String })
        // The peer ran only its local steps.
        let remote = checks.filter { $0["side"] as? String == "destination" }.compactMap { $0["id"] as? String }
        #expect(!remote.isEmpty && remote.allSatisfy { $0.hasPrefix("destination:") }, "\(remote)")
        let ran = checks.filter { $0["side"] as? String == "destination" && $0["status"] as? String != "skip" }
        #expect(
            ran.allSatisfy { ["engine-port", "service", "listener", "firewall"].contains(($0["id"] as? String ?? "").split(separator: ":").last.map(String.init) ?? "") },
            "\(ran.map { $0["id"] ?? "?" })")
        // The text report opens with the computer to fix.
        let text = try portdoctor([
            "run", "crashplan", "--with", "127.0.0.1:\(peer.port)", "--code", "wrong-code", "--param", "role=source",
            "--param", "port=\(servicePort)",
        ])
        #expect(text.status == 2)
        #expect(text.stderr.contains("wrong-code"), "\(text.stderr)")
    }

    @Test func aPeerRefusesAPackItDoesNotHave() throws {
        let peer = try PairingListener()
        defer { peer.stop() }
        let folder = try pack([
            "pack.lua": Self.manifest, "a.lua": Self.check("return pass { summary = 'fine' }"),
        ])
        defer { try? FileManager.default.removeItem(at: folder.deletingLastPathComponent()) }
        let r = try portdoctor(["run", folder.path, "--with", "127.0.0.1:\(peer.port)", "--code", peer.code])
        #expect(r.status == 2, "\(r.stdout)")
        #expect(r.stderr.contains("unknown-pack") && r.stderr.contains("'demo'"), "\(r.stderr)")
        // The local run stands: its check, and a note that the other side is missing.
        #expect(r.stdout.contains("fine"), "\(r.stdout)")
        #expect(r.stdout.contains("pairing with 127.0.0.1:\(peer.port) failed"), "\(r.stdout)")
    }

    /// A pairing that fails never throws the local run away: the report is this computer's side,
    /// with a note (an `error` check: exit code 2) saying why, for each way it can fail.
    @Test func aFailedPairingKeepsTheLocalDiagnosisWithANote() throws {
        let peer = try PairingListener()
        defer { peer.stop() }
        let servicePort = try Loopback.freeTCPPort()
        let nobody = try Loopback.freeTCPPort()
        let folder = try pack([
            "pack.lua": Self.manifest, "a.lua": Self.check("return pass { summary = 'fine' }"),
        ])
        defer { try? FileManager.default.removeItem(at: folder.deletingLastPathComponent()) }
        let source = ["--param", "role=source", "--param", "port=\(servicePort)"]
        let cases: [(name: String, args: [String], code: String, stage: String)] = [
            ("wrong code", ["crashplan", "--with", "127.0.0.1:\(peer.port)", "--code", "AAAA-AAAA"] + source, "wrong-code", "addresses"),
            ("peer unreachable", ["crashplan", "--with", "127.0.0.1:\(nobody)", "--code", "AAAA-AAAA"] + source, "peer-unreachable", "open"),
            ("pack missing there", [folder.path, "--with", "127.0.0.1:\(peer.port)", "--code", peer.code], "unknown-pack", "run"),
        ]
        for c in cases {
            let r = try portdoctor(
                ["run"] + c.args + ["--format", "json"])
            #expect(r.status == 2, "\(c.name): \(r.stderr)")
            #expect(r.stderr.contains(c.code), "\(c.name): \(r.stderr)")
            let root = try #require(
                try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(c.name): \(r)")
            let checks = try #require(root["checks"] as? [[String: Any]])
            let note = try #require(checks.first { $0["id"] as? String == "pairing" }, "\(c.name): \(checks)")
            #expect(note["status"] as? String == "error")
            let evidence = note["evidence"] as? [String: Any]
            #expect(evidence?["code"] as? String == c.code, "\(c.name): \(note)")
            #expect(evidence?["stage"] as? String == c.stage, "\(c.name): \(note)")
            #expect((note["summary"] as? String)?.contains("this computer's side only") == true)
            #expect(!((note["advice"] as? [String]) ?? []).isEmpty)
            // This computer's own checks ran and are all there; no verdict about the other computer.
            let local = checks.filter { $0["id"] as? String != "pairing" && $0["status"] as? String != "skip" }
            #expect(!local.isEmpty, "\(c.name): \(checks)")
            #expect(root["pairing"] == nil || root["pairing"] is NSNull, "\(c.name)")
        }
    }

    @Test func pairedRunWithATokenFileOpensWithTheDestinationsVerdict() throws {
        let token = NSTemporaryDirectory() + "pair-\(UUID().uuidString).token"
        try "MZXW6YTBOI2GKZLOMF2GS33OOVRGK3TU\n".write(toFile: token, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: token) }
        let peer = try PairingListener(extra: ["--token-file", token])
        defer { peer.stop() }
        let servicePort = try Loopback.freeTCPPort()
        let r = try portdoctor([
            "run", "crashplan", "--with", "127.0.0.1:\(peer.port)", "--token-file", token, "--param", "role=source",
            "--param", "port=\(servicePort)",
        ])
        #expect(r.status == 1, "\(r.stderr)")
        let first = r.stdout.split(separator: "\n", omittingEmptySubsequences: false).dropFirst(3).first.map(String.init) ?? ""
        #expect(first.hasPrefix("Fix the destination,"), "\(r.stdout)")
        #expect(r.stdout.contains("destination:listener"), "\(r.stdout)")
    }
}
