import Foundation
import Reactor
import Synchronization
import Testing

@testable import Probes

#if canImport(Glibc)
    import Glibc
#endif

/// A router's WANIPv6FirewallControl on loopback, answering per IGD:2: `answers` maps an action to
/// the body of its response (or a fault's error code). It records the requests.
final class FakeFirewallControl: Sendable {
    let port: UInt16
    private let listener: Int32
    private let seen = Mutex<[String]>([])
    private let stopping = Atomic<Bool>(false)
    private let stopped = Atomic<Bool>(false)
    static let type = "urn:schemas-upnp-org:service:WANIPv6FirewallControl:1"
    enum Answer: Sendable {
        case success(String)
        case failure(Int)
    }

    var requests: [String] { seen.withLock { $0 } }

    init(_ answers: [String: Answer]) throws {
        let l = try Listener("127.0.0.1")
        listener = dup(l.fd)
        port = l.port
        Thread.detachNewThread { [self] in
            while !stopping.load(ordering: .sequentiallyConsistent) {
                var p = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
                guard poll(&p, 1, 50) > 0 else { continue }
                let c = accept(listener, nil, nil)
                guard c >= 0 else { continue }
                let request = FakeIGD.read(c)
                seen.withLock { $0.append(request) }
                let action = answers.keys.first { request.contains("#\($0)\"") } ?? "?"
                var status = "200 OK"
                let body: String
                switch answers[action] {
                case .success(let fields)?:
                    body = "<u:\(action)Response xmlns:u=\"\(Self.type)\">\(fields)</u:\(action)Response>"
                case .failure(let code)?:
                    status = "500 Internal Server Error"
                    body =
                        "<s:Fault><detail><UPnPError xmlns=\"urn:schemas-upnp-org:control-1-0\"><errorCode>\(code)</errorCode><errorDescription>x</errorDescription></UPnPError></detail></s:Fault>"
                case nil:
                    status = "500 Internal Server Error"
                    body = "<s:Fault><detail><UPnPError><errorCode>401</errorCode></UPnPError></detail></s:Fault>"
                }
                let xml = "<?xml version=\"1.0\"?><s:Envelope><s:Body>\(body)</s:Body></s:Envelope>"
                let answer =
                    "HTTP/1.1 \(status)\r\nContent-Length: \(xml.utf8.count)\r\nConnection: close\r\n\r\n\(xml)"
                _ = answer.withCString { send(c, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
                close(c)
            }
            close(listener)
            stopped.store(true, ordering: .sequentiallyConsistent)
        }
    }

    var gateway: UPnP.Gateway {
        UPnP.Gateway(
            location: "http://127.0.0.1:\(port)/rootDesc.xml", firewallServiceType: Self.type,
            firewallControlURL: "http://127.0.0.1:\(port)/ctl/IP6FCtl")
    }

    func stop() {
        stopping.store(true, ordering: .sequentiallyConsistent)
        for _ in 0..<200 where !stopped.load(ordering: .sequentiallyConsistent) { usleep(10_000) }
    }
}

@Suite struct UPnPPinholeTests {
    func run<T>(_ start: (EventLoop, @escaping (T) -> Void) -> Void) -> T {
        let loop = EventLoop()
        var out: T?
        start(loop) { out = $0 }
        while out == nil { loop.turn(until: nil) }
        return out!
    }

    /// miniupnpd 2.3.1's description, cut to the services.
    static let description = """
        <root><device><deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:2</deviceType><friendlyName>r</friendlyName>
        <deviceList><device><deviceList><device><serviceList>
        <service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:2</serviceType><controlURL>/ctl/IPConn</controlURL></service>
        <service><serviceType>urn:schemas-upnp-org:service:WANIPv6FirewallControl:1</serviceType><controlURL>/ctl/IP6FCtl</controlURL></service>
        </serviceList></device></deviceList></device></deviceList></device></root>
        """

    @Test func theFirewallControlIsFoundInTheDescription() {
        let g = UPnP.parseDescription(Self.description, location: "http://[2001:db8::1]:5000/rootDesc.xml", server: nil)
        #expect(g.firewallServiceType == "urn:schemas-upnp-org:service:WANIPv6FirewallControl:1")
        #expect(g.firewallControlURL == "http://[2001:db8::1]:5000/ctl/IP6FCtl")
        #expect(g.controlURL == "http://[2001:db8::1]:5000/ctl/IPConn")
        let v1 = UPnP.parseDescription(
            "<service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:1</serviceType><controlURL>/c</controlURL></service>",
            location: "http://10.0.0.1/", server: nil)
        #expect(v1.firewallControlURL == nil && v1.controlURL != nil)
    }

    @Test func addThenCheckThenDelete() throws {
        let fw = try FakeFirewallControl([
            "GetFirewallStatus": .success(
                "<FirewallEnabled>1</FirewallEnabled><InboundPinholeAllowed>0</InboundPinholeAllowed>"),
            "AddPinhole": .success("<UniqueID>7</UniqueID>"),
            "CheckPinholeWorking": .success("<IsWorking>1</IsWorking>"),
            "DeletePinhole": .success(""),
        ])
        defer { fw.stop() }
        let g = fw.gateway
        let status = run { UPnP.firewallStatus(g, on: $0, $1) }
        #expect(try status.get() == UPnP.FirewallStatus(enabled: true, inboundPinholeAllowed: false))
        let added = run {
            UPnP.addPinhole(g, internalClient: "2001:db8::2", internalPort: 4242, lease: 600, on: $0, $1)
        }
        #expect(try added.get().id == 7)
        let working = run { UPnP.checkPinholeWorking(g, id: 7, on: $0, $1) }
        #expect(try working.get() == true)
        let deleted = run { UPnP.deletePinhole(g, id: 7, on: $0, $1) }
        #expect((try? deleted.get()) != nil)
        let add = try #require(fw.requests.first { $0.contains("#AddPinhole") })
        for field in [
            "<RemoteHost></RemoteHost>", "<RemotePort>0</RemotePort>", "<InternalClient>2001:db8::2</InternalClient>",
            "<InternalPort>4242</InternalPort>", "<Protocol>6</Protocol>", "<LeaseTime>600</LeaseTime>",
        ] {
            #expect(add.contains(field), "\(field)")
        }
        #expect(fw.requests.contains { $0.contains("#DeletePinhole") && $0.contains("<UniqueID>7</UniqueID>") })
    }

    /// The firewall service's 7xx codes are its own: 704 is "no such pinhole", not WANIPConnection's meaning.
    @Test(arguments: [
        (701, "PinholeSpaceExhausted"), (702, "FirewallDisabled"), (703, "InboundPinholeNotAllowed"),
        (704, "NoSuchEntry"), (709, "NoPacketSent"), (606, "over IPv6"),
    ])
    func refusalsAreNamed(_ code: Int, _ words: String) throws {
        let fw = try FakeFirewallControl(["AddPinhole": .failure(code), "CheckPinholeWorking": .failure(code)])
        defer { fw.stop() }
        let added = run { UPnP.addPinhole(fw.gateway, internalClient: "2001:db8::2", internalPort: 4242, on: $0, $1) }
        guard case .failure(let e) = added else { Issue.record("accepted"); return }
        #expect(e.code == code && e.message.contains(words), "\(e)")
    }

    @Test func aRouterWithoutTheServiceSaysSo() {
        let g = UPnP.Gateway(location: "http://127.0.0.1:1/", serviceType: "x", controlURL: "http://127.0.0.1:1/c")
        let r = run { UPnP.firewallStatus(g, on: $0, $1) }
        guard case .failure(let e) = r else { Issue.record("no failure"); return }
        #expect(e.message.contains("no IPv6 firewall control"))
    }

    /// Hostile descriptions: bounded, never a crash.
    @Test func garbageDescriptionsNeverCrash() {
        var g = SystemRandomNumberGenerator()
        let pieces = [
            "<service>", "</service>", "<serviceType>", "</serviceType>", "WANIPv6FirewallControl",
            "<controlURL>", "</controlURL>", "http://", "[", "]", ":", "/", "x", "<", ">",
        ]
        for _ in 0..<2000 {
            let xml = (0..<Int.random(in: 0...60, using: &g)).map { _ in pieces.randomElement(using: &g)! }.joined()
            _ = UPnP.parseDescription(xml, location: "http://[::1]:5000/", server: nil)
        }
    }
}
