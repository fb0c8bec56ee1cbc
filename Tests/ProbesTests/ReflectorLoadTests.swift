import Foundation
import Reactor
import Synchronization
import Testing

@testable import Probes

#if canImport(Glibc)
    import Glibc

    /// The reflector faces strangers: a thousand held connections (idle, half a request, too long a
    /// line) and a ten-second flood from one address must leave it answering a well-behaved client,
    /// connecting back only to whoever asked, and holding no descriptors afterwards. Everything is on
    /// 127/8, which Linux routes to loopback whole, so each stranger can have its own address.
    @Suite(.serialized) struct ReflectorLoadTests {
        /// A reflector on its own thread, as `portdoctor listen` runs it.
        final class Running: Sendable {
            let port = Atomic<UInt16>(0)
            let stopping = Atomic<Bool>(false)
            let stopped = Atomic<Bool>(false)

            init() throws {
                Thread.detachNewThread { [self] in
                    let loop = EventLoop()
                    guard let reflector = try? Reflector(address: "127.0.0.1", port: 0, on: loop) else {
                        stopped.store(true, ordering: .sequentiallyConsistent)
                        return
                    }
                    port.store(reflector.address.port, ordering: .sequentiallyConsistent)
                    while !stopping.load(ordering: .sequentiallyConsistent) {
                        loop.turn(until: EventLoop.now() + 50_000_000)
                    }
                    reflector.stop()
                    stopped.store(true, ordering: .sequentiallyConsistent)
                }
                while port.load(ordering: .sequentiallyConsistent) == 0
                    && !stopped.load(ordering: .sequentiallyConsistent)
                {
                    usleep(1000)
                }
                guard port.load(ordering: .sequentiallyConsistent) != 0 else {
                    throw LoadSetupError(description: "the reflector did not start")
                }
            }

            func stop() {
                stopping.store(true, ordering: .sequentiallyConsistent)
                while !stopped.load(ordering: .sequentiallyConsistent) { usleep(1000) }
            }
        }

        static func address(_ ip: String, _ port: UInt16) -> sockaddr_in {
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET)
            a.sin_port = port.bigEndian
            a.sin_addr.s_addr = inet_addr(ip)
            return a
        }

        /// A blocking TCP socket from `source` to the reflector, every wait bounded by `seconds`; nil if refused.
        static func connect(from source: String, to port: UInt16, seconds: Int = 3) -> Int32? {
            let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard s >= 0 else { return nil }
            var wait = timeval(tv_sec: seconds, tv_usec: 0)
            setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
            var from = address(source, 0), to = address("127.0.0.1", port)
            let size = socklen_t(MemoryLayout<sockaddr_in>.size)
            let ok = withUnsafePointer(to: &from) { f in
                withUnsafePointer(to: &to) { t in
                    f.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, size) == 0 }
                        && t.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(s, $0, size) == 0 }
                }
            }
            guard ok else {
                close(s)
                return nil
            }
            return s
        }

        static func send(_ s: Int32, _ text: String) {
            _ = Array(text.utf8).withUnsafeBytes { Glibc.send(s, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        }

        /// The first line the reflector answers on `s`, or nil (closed, or nothing in the socket's wait).
        static func line(_ s: Int32) -> String? {
            var got: [UInt8] = []
            var byte: UInt8 = 0
            while recv(s, &byte, 1, 0) == 1 {
                if byte == 10 { return String(decoding: got, as: UTF8.self) }
                got.append(byte)
            }
            return nil
        }

        /// A well-behaved client: its reply and how long it took. Each ask comes from its own
        /// 127.2.0.x, since one client asks only a few times a minute (the reflector's per-address limit).
        static func ask(_ port: UInt16, _ request: String = "PORTDOCTOR/1 HELLO") -> (ProbesReply?, Duration) {
            let clock = ContinuousClock()
            let start = clock.now
            let n = asked.add(1, ordering: .relaxed).newValue
            guard let s = connect(from: "127.2.\(n / 250).\(n % 250 + 1)", to: port, seconds: 8) else {
                return (nil, clock.now - start)
            }
            defer { close(s) }
            send(s, request + "\n")
            let reply = line(s).flatMap { try? JSONDecoder().decode(ProbesReply.self, from: Data($0.utf8)) }
            return (reply, clock.now - start)
        }

        static let asked = Atomic<Int>(0)

        typealias ProbesReply = ReflectorProtocol.Reply

        static func openDescriptors() -> Int {
            (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
        }

        /// The reflector's open connections: sockets on its port other than the listener. Counted from
        /// the kernel's table rather than /proc/self/fd, which other suites running alongside also change.
        static func reflectorConnections(_ port: UInt16) -> Int {
            let table = SocketTable.readFile("/proc/net/tcp") ?? ""
            return ProcNet.parse(table, proto: .tcp, family: .ipv4).filter {
                $0.local.port == port && $0.state != "LISTEN" && $0.inode != 0
            }.count
        }

        static func residentKB() -> Int {
            let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
            let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
            return Int(line.split(separator: " ").dropFirst().first ?? "") ?? -1
        }

        /// A listener on `ip` that counts who connects to it (the reflector must only ever connect back
        /// to the asker, so one on an address nobody asks from must count nothing).
        final class Trap: Sendable {
            let fd: Int32
            let port: UInt16
            init(_ ip: String) throws {
                let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
                var a = address(ip, 0)
                var length = socklen_t(MemoryLayout<sockaddr_in>.size)
                let ok = withUnsafeMutablePointer(to: &a) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        bind(s, $0, length) == 0 && listen(s, 128) == 0 && getsockname(s, $0, &length) == 0
                    }
                }
                guard ok else {
                    close(s)
                    throw LoadSetupError(description: "cannot listen on \(ip)")
                }
                fd = s
                port = UInt16(bigEndian: a.sin_port)
            }
            func accepted() -> Int {
                var n = 0
                while case let c = accept(fd, nil, nil), c >= 0 {
                    close(c)
                    n += 1
                }
                return n
            }
            deinit { close(fd) }
        }

        @Test func aThousandHeldConnectionsAndAFloodLeaveItAnswering() throws {
            let reflector = try Running()
            defer { reflector.stop() }
            let port = reflector.port.load(ordering: .sequentiallyConsistent)

            let (first, normal) = Self.ask(port)
            #expect(first?.ok == true && first?.seen?.hasPrefix("127.2.0.") == true)
            let baseDescriptors = Self.openDescriptors(), baseKB = Self.residentKB()
            let baseConnections = Self.reflectorConnections(port)

            // 1,000 strangers, each from its own address so the per-address limit lets them all in:
            // idle, half a request (slowloris), a line too long, or a line the fuzzer found hostile.
            var held: [Int32] = []
            defer { held.forEach { close($0) } }
            for i in 0..<1000 {
                guard let s = Self.connect(from: "127.1.\(i / 250).\(i % 250 + 1)", to: port) else { continue }
                held.append(s)
                switch i % 4 {
                case 1: Self.send(s, "PORTDOCTOR/1 HEL")
                case 2: Self.send(s, String(repeating: "A", count: 4096))
                case 3: Self.send(s, "PORTDOCTOR/1 HELLO = \u{0}\u{FF}=\n")
                default: break
                }
            }
            let (underHold, holdTime) = Self.ask(port)
            print(
                "reflector load: \(held.count) connections held (reflector side: \(Self.reflectorConnections(port))); a client's hello took \(holdTime) (alone: \(normal))"
            )
            #expect(held.count == 1000)
            #expect(underHold?.ok == true)
            #expect(holdTime < .seconds(3), "the reflector's own request limit is 5 s; an answer must not wait for it")

            // Ten seconds of requests from one address, including connect-backs: at most its ten a
            // minute are served; the trap on another address must never be connected to.
            let trap = try Trap("127.0.0.9")
            let flooded = Atomic<Int>(0), floodDone = Atomic<Bool>(false)
            Thread.detachNewThread {
                let end = ContinuousClock.now + .seconds(10)
                while ContinuousClock.now < end {
                    guard let s = Self.connect(from: "127.0.0.3", to: port, seconds: 1) else { continue }
                    Self.send(s, "PORTDOCTOR/1 CONNECT-BACK \(trap.port) timeout=1\n")
                    close(s)
                    flooded.add(1, ordering: .relaxed)
                }
                floodDone.store(true, ordering: .sequentiallyConsistent)
            }
            var duringFlood: [Duration] = []
            while !floodDone.load(ordering: .sequentiallyConsistent) {
                let (r, t) = Self.ask(port)
                #expect(r?.ok == true, "a well-behaved client went unanswered during the flood")
                duringFlood.append(t)
                usleep(500_000)
            }
            let slowest = duringFlood.max() ?? .zero
            print(
                "reflector load: flood of \(flooded.load(ordering: .relaxed)) connections in 10 s; \(duringFlood.count) hellos meanwhile, slowest \(slowest)"
            )
            #expect(slowest < .seconds(3))
            #expect(flooded.load(ordering: .relaxed) > 100, "the flood did not flood")

            held.forEach { close($0) }
            held = []
            // Descriptors back to where they were (the reflector closes each connection when its peer
            // does, or at its 5 s request limit); bounded wait.
            let deadline = ContinuousClock.now + .seconds(15)
            while Self.reflectorConnections(port) > 0 && ContinuousClock.now < deadline { usleep(100_000) }
            let afterConnections = Self.reflectorConnections(port)
            let afterDescriptors = Self.openDescriptors(), afterKB = Self.residentKB()
            print(
                "reflector load: its connections \(baseConnections) before, \(afterConnections) after; process descriptors \(baseDescriptors) before, \(afterDescriptors) after; RSS \(baseKB) KB before, \(afterKB) KB after"
            )
            #expect(afterConnections == 0, "the reflector still holds \(afterConnections) connections")
            #expect(afterKB - baseKB < 64 * 1024, "memory grew by \(afterKB - baseKB) KB")
            #expect(trap.accepted() == 0, "the reflector connected to an address that never asked")
            let (last, _) = Self.ask(port)
            #expect(last?.ok == true)
        }
    }
#endif

struct LoadSetupError: Error, CustomStringConvertible { var description: String }
