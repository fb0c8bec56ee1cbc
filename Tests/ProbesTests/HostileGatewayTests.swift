import Foundation
import Reactor
import Testing

@testable import Probes

#if canImport(Glibc)
    import Glibc
#endif

/// A fake gateway that misbehaves: the HTTP client must end every exchange with a clear failure,
/// within its time and size bounds.
@Suite(.serialized) struct HostileGatewayTests {
    enum Behaviour: Sendable {
        case huge, drip, garbage, silent, tooLongHeaderless, soapFault
    }

    /// Serves one connection with the behaviour, on its own thread; returns the port.
    static func serve(_ b: Behaviour) throws -> UInt16 {
        let l = try Listener("127.0.0.1")
        let fd = dup(l.fd)
        let port = l.port
        Thread.detachNewThread {
            let c = accept(fd, nil, nil)
            close(fd)
            var buffer = [UInt8](repeating: 0, count: 4096)
            _ = recv(c, &buffer, buffer.count, 0)
            func say(_ s: String) { _ = s.withCString { send(c, $0, strlen($0), Int32(MSG_NOSIGNAL)) } }
            switch b {
            case .huge:
                say("HTTP/1.1 200 OK\r\nContent-Length: 50000000\r\n\r\n")
                let chunk = [UInt8](repeating: 65, count: 65536)
                for _ in 0..<200 where send(c, chunk, chunk.count, Int32(MSG_NOSIGNAL)) > 0 {}
            case .drip:
                say("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
                for _ in 0..<100 {
                    if send(c, "x", 1, Int32(MSG_NOSIGNAL)) <= 0 { break }
                    usleep(100_000)
                }
            case .garbage: say("\u{1}\u{2}not http at all\r\n\r\n")
            case .silent: usleep(3_000_000)
            case .tooLongHeaderless:
                let chunk = [UInt8](repeating: 66, count: 65536)
                for _ in 0..<100 where send(c, chunk, chunk.count, Int32(MSG_NOSIGNAL)) > 0 {}
            case .soapFault:
                say(
                    "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 330\r\n\r\n<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail><UPnPError xmlns=\"urn:schemas-upnp-org:control-1-0\"><errorCode>718</errorCode><errorDescription>ConflictInMappingEntry</errorDescription></UPnPError></detail></s:Fault></s:Body></s:Envelope>"
                )
            }
            close(c)
        }
        return port
    }

    func get(_ b: Behaviour, timeout: Duration = .seconds(1)) throws -> (
        Result<MiniHTTP.Response, MiniHTTP.Failure>, Double
    ) {
        let port = try Self.serve(b)
        let loop = EventLoop()
        var result: Result<MiniHTTP.Response, MiniHTTP.Failure>?
        let start = EventLoop.now()
        MiniHTTP.request(
            "GET", url: "http://127.0.0.1:\(port)/rootDesc.xml", maxBytes: 64 << 10, timeout: timeout, on: loop
        ) {
            result = $0
        }
        while result == nil { loop.turn(until: nil) }
        return (result!, Double(EventLoop.now() - start) / 1e9)
    }

    @Test func aHugeBodyIsCutOffAtTheLimit() throws {
        let (r, _) = try get(.huge)
        guard case .failure(.tooLarge(let n)) = r else { Issue.record("expected tooLarge, got \(r)"); return }
        #expect(n == 64 << 10)
    }

    @Test func aSlowDripEndsAtTheTimeout() throws {
        let (r, seconds) = try get(.drip, timeout: .milliseconds(500))
        guard case .failure(.timeout) = r else { Issue.record("expected timeout, got \(r)"); return }
        #expect(seconds < 5)  // bounded: the drip would take 10 s
    }

    @Test func garbageIsNotHTTP() throws {
        let (r, _) = try get(.garbage)
        guard case .failure(.malformed(let why)) = r else { Issue.record("expected malformed, got \(r)"); return }
        #expect(why == "bad status line")
    }

    @Test func silenceIsATimeout() throws {
        let (r, _) = try get(.silent, timeout: .milliseconds(300))
        guard case .failure(.timeout) = r else { Issue.record("expected timeout, got \(r)"); return }
    }

    @Test func endlessHeadersAreCutOff() throws {
        let (r, _) = try get(.tooLongHeaderless)
        guard case .failure(.tooLarge) = r else { Issue.record("expected tooLarge, got \(r)"); return }
    }

    @Test func aSOAPFaultIsANamedUPnPError() throws {
        let port = try Self.serve(.soapFault)
        let loop = EventLoop()
        let g = UPnP.Gateway(
            location: "http://127.0.0.1:\(port)/", serviceType: "urn:schemas-upnp-org:service:WANIPConnection:1",
            controlURL: "http://127.0.0.1:\(port)/ctl/IPConn")
        var result: Result<UPnP.Mapping, UPnP.Failure>?
        UPnP.addMapping(g, externalPort: 4242, internalClient: "10.0.0.2", internalPort: 4242, on: loop) { result = $0 }
        while result == nil { loop.turn(until: nil) }
        guard case .failure(let e)? = result else { Issue.record("expected a failure"); return }
        #expect(e.code == 718)
        #expect(e.description == "UPnP error 718: the port is already mapped to another computer")
    }

    @Test func brokenXMLGivesAGatewayWithoutTheMissingParts() throws {
        let g = UPnP.parseDescription(
            "<root><device><manufacturer>Evil<<<</device><serviceList><", location: "http://x/", server: nil)
        #expect(g.controlURL == nil)
        #expect(g.serviceType == nil)
    }
}
