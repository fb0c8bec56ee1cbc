import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The network commands against real sockets on loopback: `listen` with `probe reflect`, and
/// `probe stun` against a UDP service that is not STUN.
extension CommandLineTests {
    /// A loopback port nobody listens on right now.
    static func freePort() throws -> UInt16 {
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(s) }
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &a) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(s, $0, length) == 0 && getsockname(s, $0, &length) == 0
            }
        }
        guard bound else { throw CocoaError(.fileNoSuchFile) }
        return UInt16(bigEndian: a.sin_port)
    }

    /// A TCP listener on loopback (another program's, as far as portdoctor knows); returns fd and port.
    static func tcpListener() throws -> (fd: Int32, port: UInt16) {
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &a) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(s, $0, length) == 0 && listen(s, 16) == 0 && getsockname(s, $0, &length) == 0
            }
        }
        guard ok else {
            close(s)
            throw CocoaError(.fileNoSuchFile)
        }
        return (s, UInt16(bigEndian: a.sin_port))
    }

    static func accepts(_ port: UInt16) -> Bool {
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(s) }
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = port.bigEndian
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &a) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    @Test func listenThenProbeReflectConnectsBack() throws {
        let reflectorPort = try Self.freePort()
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
        for _ in 0..<100 where !Self.accepts(reflectorPort) && listen.isRunning { usleep(50_000) }
        #expect(listen.isRunning, "portdoctor listen exited (status \(listen.terminationStatus))")

        let service = try Self.tcpListener()
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
        let s = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &a) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(s, $0, length) == 0 && getsockname(s, $0, &length) == 0
            }
        }
        #expect(bound)
        let port = UInt16(bigEndian: a.sin_port)
        let echo = Echo(fd: s)
        Thread.detachNewThread { echo.serve() }
        defer { echo.stop() }

        let r = try portdoctor(["probe", "stun", "127.0.0.1:\(port)"])
        #expect(r.status == 1)
        #expect(r.stdout.contains("answers, but not with STUN"), "\(r.stdout)")
        // The client's documented schedule: 4 requests (500 ms, doubling).
        #expect(echo.count >= 1 && echo.count <= 4, "datagrams sent: \(echo.count)")
    }

    final class Echo: Sendable {
        let fd: Int32
        private let received = Atomic<Int>(0)
        private let stopping = Atomic<Bool>(false)
        private let stopped = Atomic<Bool>(false)
        var count: Int { received.load(ordering: .sequentiallyConsistent) }

        init(fd: Int32) { self.fd = fd }

        func serve() {
            var buffer = [UInt8](repeating: 0, count: 2048)
            while !stopping.load(ordering: .sequentiallyConsistent) {
                var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&p, 1, 50) > 0 else { continue }
                var from = sockaddr_storage()
                var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
                let n = withUnsafeMutablePointer(to: &from) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        recvfrom(fd, &buffer, buffer.count, 0, $0, &length)
                    }
                }
                guard n >= 0 else { continue }
                received.add(1, ordering: .sequentiallyConsistent)
                _ = withUnsafePointer(to: &from) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, buffer, n, 0, $0, length) }
                }
            }
            close(fd)
            stopped.store(true, ordering: .sequentiallyConsistent)
        }

        func stop() {
            stopping.store(true, ordering: .sequentiallyConsistent)
            for _ in 0..<200 where !stopped.load(ordering: .sequentiallyConsistent) { usleep(10_000) }
        }
    }
}
