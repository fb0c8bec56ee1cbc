import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `probe pcp`, `probe addresses` and the dual-stack reflector from the shell, on loopback.
extension CommandLineTests {
    @Test func probePCPWithNobodyOnThePortIsATimeoutAfterItsTries() throws {
        let r = try portdoctor(["probe", "pcp", "--server", "127.0.0.1", "--tries", "1", "--format", "json"])
        #expect(r.status == 1, "\(r.stdout) \(r.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(r)")
        #expect(
            json["status"] as? String == "timeout" && json["tries"] as? Int == 1
                && json["opcode"] as? String == "announce")
        for bad in [["--nonce", "zz"], ["--tries", "9"], ["--server", "router.example"], ["--map", "70000"]] {
            #expect(try portdoctor(["probe", "pcp"] + bad).status == 2, "\(bad)")
        }
    }

    @Test func probeAddressesListsLoopbackWithItsScope() throws {
        let r = try portdoctor(["probe", "addresses", "--format", "json"])
        #expect(r.status == 0)
        let all = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]], "\(r)")
        #expect(all.contains { $0["ip"] as? String == "127.0.0.1" && $0["scope"] as? String == "host" })
        #expect(try portdoctor(["probe", "addresses", "--family", "ipx"]).status == 2)
    }

    /// By default the reflector listens on both families and names an IPv4 peer by its IPv4 address.
    @Test func listenByDefaultServesBothFamilies() throws {
        let reflectorPort = try Loopback.freeTCPPort()
        let listen = Process()
        listen.executableURL = Self.binary
        listen.arguments = ["listen", "--port", String(reflectorPort), "--per-minute", "100"]
        listen.standardOutput = FileHandle.nullDevice
        listen.standardError = FileHandle.nullDevice
        try listen.run()
        defer {
            kill(listen.processIdentifier, SIGKILL)
            listen.waitUntilExit()
        }
        Loopback.waitUntilAccepting(reflectorPort, seconds: 30) { listen.isRunning }
        for (host, seen) in [("127.0.0.1", "127.0.0.1:"), ("[::1]", "[::1]:")] {
            let r = try portdoctor(["probe", "reflect", "\(host):\(reflectorPort)", "--format", "json"])
            #expect(r.status == 0, "\(r.stdout) \(r.stderr)")
            let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
            #expect((json?["seen"] as? String)?.hasPrefix(seen) == true, "\(r.stdout)")
        }
    }
}
