import Foundation
import Reactor
import Synchronization
import Testing

@testable import Probes

#if canImport(Glibc)
    import Glibc
#endif

/// A stand-in router's UPnP control URL on loopback: AddPortMapping refuses the leases in `refuse`
/// (with `error`), and GetSpecificPortMappingEntry reports `reported` as the lease it keeps.
final class FakeIGD: Sendable {
    let port: UInt16
    private let listener: Int32
    private let asked = Mutex<[Int]>([])
    private let stopping = Atomic<Bool>(false)
    private let stopped = Atomic<Bool>(false)

    /// The leases AddPortMapping was asked for, in order.
    var leasesAsked: [Int] { asked.withLock { $0 } }

    init(refuse: Set<Int>, error: Int, reported: @escaping @Sendable (Int) -> Int = { $0 }) throws {
        let l = try Listener("127.0.0.1")
        listener = dup(l.fd)
        port = l.port
        Thread.detachNewThread { [self] in
            var granted: Int?
            while !stopping.load(ordering: .sequentiallyConsistent) {
                var p = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
                guard poll(&p, 1, 50) > 0 else { continue }
                let c = accept(listener, nil, nil)
                guard c >= 0 else { continue }
                let request = Self.read(c)
                let value = { (name: String) -> String? in
                    guard let a = request.range(of: "<\(name)>"), let b = request.range(of: "</\(name)>") else {
                        return nil
                    }
                    return String(request[a.upperBound..<b.lowerBound])
                }
                var body: String
                var status = "200 OK"
                if request.contains("#AddPortMapping\"") {
                    let lease = Int(value("NewLeaseDuration") ?? "") ?? -1
                    asked.withLock { $0.append(lease) }
                    if refuse.contains(lease) {
                        status = "500 Internal Server Error"
                        body =
                            "<s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail><UPnPError xmlns=\"urn:schemas-upnp-org:control-1-0\"><errorCode>\(error)</errorCode><errorDescription>refused</errorDescription></UPnPError></detail></s:Fault>"
                    } else {
                        granted = lease
                        body =
                            "<u:AddPortMappingResponse xmlns:u=\"urn:schemas-upnp-org:service:WANIPConnection:1\"></u:AddPortMappingResponse>"
                    }
                } else if let lease = granted {
                    body =
                        "<u:GetSpecificPortMappingEntryResponse xmlns:u=\"urn:schemas-upnp-org:service:WANIPConnection:1\"><NewInternalPort>4242</NewInternalPort><NewInternalClient>10.0.0.2</NewInternalClient><NewEnabled>1</NewEnabled><NewPortMappingDescription>portdoctor</NewPortMappingDescription><NewLeaseDuration>\(reported(lease))</NewLeaseDuration></u:GetSpecificPortMappingEntryResponse>"
                } else {
                    status = "500 Internal Server Error"
                    body =
                        "<s:Fault><detail><UPnPError><errorCode>714</errorCode><errorDescription>NoSuchEntryInArray</errorDescription></UPnPError></detail></s:Fault>"
                }
                let xml =
                    "<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body>\(body)</s:Body></s:Envelope>"
                let answer =
                    "HTTP/1.1 \(status)\r\nContent-Length: \(xml.utf8.count)\r\nConnection: close\r\n\r\n\(xml)"
                _ = answer.withCString { send(c, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
                close(c)
            }
            close(listener)
            stopped.store(true, ordering: .sequentiallyConsistent)
        }
    }

    /// One request: the head, then as much body as Content-Length says.
    static func read(_ c: Int32) -> String {
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while data.count < 1 << 20 {
            let n = recv(c, &buffer, buffer.count, 0)
            guard n > 0 else { break }
            data += buffer.prefix(n)
            let text = String(decoding: data, as: UTF8.self)
            if let end = text.range(of: "\r\n\r\n") {
                let head = text[..<end.lowerBound].lowercased()
                let length =
                    head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                    .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
                if text[end.upperBound...].utf8.count >= length { return text }
            }
        }
        return String(decoding: data, as: UTF8.self)
    }

    var gateway: UPnP.Gateway {
        UPnP.Gateway(
            location: "http://127.0.0.1:\(port)/rootDesc.xml",
            serviceType: "urn:schemas-upnp-org:service:WANIPConnection:1",
            controlURL: "http://127.0.0.1:\(port)/ctl/IPConn")
    }

    func stop() {
        stopping.store(true, ordering: .sequentiallyConsistent)
        for _ in 0..<200 where !stopped.load(ordering: .sequentiallyConsistent) { usleep(10_000) }
    }
}

/// A forward added over UPnP asks for a permanent lease first, falls back to the longest the router
/// grants, and reports the lease the router says it keeps.
@Suite struct UPnPLeaseTests {
    func add(_ igd: FakeIGD) -> Result<UPnP.Mapping, UPnP.Failure>? {
        let loop = EventLoop()
        var result: Result<UPnP.Mapping, UPnP.Failure>?
        UPnP.addMapping(igd.gateway, externalPort: 4242, internalClient: "10.0.0.2", internalPort: 4242, on: loop) {
            result = $0
        }
        while result == nil { loop.turn(until: nil) }
        return result
    }

    @Test func aPermanentForwardIsAskedForFirst() throws {
        let igd = try FakeIGD(refuse: [], error: 402)
        defer { igd.stop() }
        let m = try #require(try add(igd)?.get())
        #expect(igd.leasesAsked == [0])
        #expect(m.lease == 0)
        #expect(m.internalClient == "10.0.0.2")
    }

    @Test(arguments: [402, 501])
    func aRouterThatRefusesLongLeasesGetsTheLongestItTakes(error: Int) throws {
        let igd = try FakeIGD(refuse: [0, 604_800], error: error)
        defer { igd.stop() }
        let m = try #require(try add(igd)?.get())
        #expect(igd.leasesAsked == [0, 604_800, 86_400])
        #expect(m.lease == 86_400)
    }

    @Test func theLeaseIsTheOneTheRouterReports() throws {
        // IGD:2 routers take 0 but keep the forward for at most a week: the read-back says so.
        let igd = try FakeIGD(refuse: [], error: 402, reported: { $0 == 0 ? 604_800 : $0 })
        defer { igd.stop() }
        let m = try #require(try add(igd)?.get())
        #expect(igd.leasesAsked == [0])
        #expect(m.lease == 604_800)
    }

    @Test func aRefusalThatIsNotAboutTheLeaseIsNotRetried() throws {
        let igd = try FakeIGD(refuse: [0, 604_800, 86_400, 3_600], error: 718)
        defer { igd.stop() }
        let r = try #require(add(igd))
        guard case .failure(let e) = r else { Issue.record("expected a failure, got \(r)"); return }
        #expect(e.code == 718)
        #expect(igd.leasesAsked == [0])
    }

    @Test func aRouterThatTakesNoLeaseAtAllEndsWithItsRefusal() throws {
        let igd = try FakeIGD(refuse: [0, 604_800, 86_400, 3_600], error: 402)
        defer { igd.stop() }
        let r = try #require(add(igd))
        guard case .failure(let e) = r else { Issue.record("expected a failure, got \(r)"); return }
        #expect(e.code == 402)
        #expect(igd.leasesAsked == UPnP.preferredLeases)
    }

    @Test func onlyPermanentLeasesMeansAskingForOne() throws {
        let igd = try FakeIGD(refuse: [3_600], error: 725)
        defer { igd.stop() }
        let loop = EventLoop()
        var result: Result<UPnP.Mapping, UPnP.Failure>?
        UPnP.addMapping(
            igd.gateway, externalPort: 4242, internalClient: "10.0.0.2", internalPort: 4242, leases: [3_600], on: loop
        ) { result = $0 }
        while result == nil { loop.turn(until: nil) }
        #expect(try result?.get().lease == 0)
        #expect(igd.leasesAsked == [3_600, 0])
    }
}
