import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The network commands against real sockets on loopback: `listen` with `probe reflect`, and
/// `probe stun` against a UDP service that is not STUN.
extension CommandLineTests {
    @Test func listenThenProbeReflectConnectsBack() throws {
        let reflectorPort = try Loopback.freeTCPPort()
        let listen = Process()
        listen.executableURL = Self.binary
        listen.arguments = ["listen", "--port", String(reflectorPort), "--address", "127.0.0.1", "--per-minute", "100"]
        listen.standardOutput = FileHandle.nullDevice
        listen.standardError = FileHandle.nullDevice
        try listen.run()
        defer {
            // SIGKILL: SIGTERM may be blocked in children of the test runner.
            kill(listen.processIdentifier, SIGKILL)
            listen.waitUntilExit()
        }
        // Bounded wait for the reflector to come up (a release build that does not listen never will).
        Loopback.waitUntilAccepting(reflectorPort, seconds: 30) { listen.isRunning }
        #expect(listen.isRunning, "portdoctor listen exited (status \(listen.terminationStatus))")

        let service = try Loopback.tcpListener()
        defer { close(service.fd) }
        let r = try portdoctor([
            "probe", "reflect", "127.0.0.1:\(reflectorPort)", "--connect-back", String(service.port), "--json",
        ])
        #expect(r.status == 0, "\(r.stdout) \(r.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(r)")
        #expect((json["seen"] as? String)?.hasPrefix("127.0.0.1") == true, "\(json)")
        let back = json["connect_back"] as? [String: Any]
        #expect(back?["status"] as? String == "connected", "\(json)")
    }

    @Test func probeStunEndsAndNamesAServiceThatIsNotSTUN() throws {
        // A UDP echo: every request comes straight back, which is not a STUN response.
        let echo = try UDPStranger(.echo)
        defer { echo.stop() }
        let port = echo.port

        let r = try portdoctor(["probe", "stun", "127.0.0.1:\(port)"])
        #expect(r.status == 1)
        #expect(r.stdout.contains("answers, but not with STUN"), "\(r.stdout)")
        // The client's documented schedule: 4 requests (500 ms, doubling).
        #expect(echo.count >= 1 && echo.count <= 4, "datagrams sent: \(echo.count)")
    }
}
