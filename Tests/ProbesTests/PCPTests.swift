import Foundation
import Reactor
import TestSupport
import Testing

@testable import Probes

#if canImport(Glibc)
    import Glibc
#endif

/// A PCP server on loopback written from RFC 6887: `reply` decides, for each request, which
/// datagrams go back (none, one, or strangers before the answer). It records what it received.
final class FakePCPServer: Sendable {
    private let responder: UDPResponder

    var port: UInt16 { responder.port }
    var requests: [[UInt8]] { responder.requests }

    init(ipv6: Bool = false, reply: @escaping @Sendable ([UInt8]) -> [[UInt8]]) throws {
        responder = try UDPResponder(ipv6: ipv6, reply: reply)
    }

    func stop() { responder.stop() }

    /// A response per RFC 6887 7.2 (and 11.1 for MAP): the request's opcode with R set, `result`,
    /// `lifetime`, epoch 1234, and for MAP the request's nonce, protocol and internal port, with
    /// `external` as the assigned address (16 bytes) and `externalPort`.
    static func response(
        to request: [UInt8], result: UInt8 = 0, lifetime: UInt32 = 600, external: [UInt8]? = nil,
        externalPort: UInt16 = 0, nonce: [UInt8]? = nil, withPayload: Bool = true
    ) -> [UInt8] {
        var b: [UInt8] = [2, 0x80 | request[1], 0, result] + PCP.be32(lifetime) + PCP.be32(1234)
        b += [UInt8](repeating: 0, count: 12)
        if request[1] == 1, withPayload, request.count >= 60 {
            b += nonce ?? Array(request[24..<36])
            b += Array(request[36..<42]) + PCP.be16(externalPort)
            b += external ?? Array(request[44..<60])
        }
        return b
    }
}

@Suite struct PCPTests {
    func drive(_ loop: EventLoop, until done: () -> Bool) {
        let limit = EventLoop.now() + 30_000_000_000
        while !done(), EventLoop.now() < limit { loop.turn(until: limit) }
    }

    @Test func announceRequestIsTheRFCHeader() {
        let client = PCP.bytes16("192.0.2.7")!
        let b = PCP.announceRequest(client: client)
        #expect(b.count == 24)
        #expect(Array(b[0..<8]) == [2, 0, 0, 0, 0, 0, 0, 0])
        #expect(Array(b[8..<24]) == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 7])
    }

    @Test func mapRequestIsTheRFCLayout() {
        let nonce: [UInt8] = Array(1...12)
        let b = PCP.mapRequest(
            nonce: nonce, tcp: true, internalPort: 8080, suggestedPort: 9090,
            suggestedExternal: PCP.bytes16("0.0.0.0")!, lifetime: 7200, client: PCP.bytes16("2001:db8::5")!)
        #expect(b.count == 60)
        #expect(Array(b[0..<4]) == [2, 1, 0, 0])
        #expect(Array(b[4..<8]) == [0, 0, 0x1c, 0x20])
        #expect(Array(b[8..<24]) == [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [5])
        #expect(Array(b[24..<36]) == nonce)
        #expect(Array(b[36..<40]) == [6, 0, 0, 0])
        #expect(Array(b[40..<44]) == [0x1f, 0x90, 0x23, 0x82])
        #expect(Array(b[44..<60]) == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0])
    }

    @Test func everyResultCodeHasTheRFCName() {
        let names = [
            "SUCCESS", "UNSUPP_VERSION", "NOT_AUTHORIZED", "MALFORMED_REQUEST", "UNSUPP_OPCODE", "UNSUPP_OPTION",
            "MALFORMED_OPTION", "NETWORK_FAILURE", "NO_RESOURCES", "UNSUPP_PROTOCOL", "USER_EX_QUOTA",
            "CANNOT_PROVIDE_EXTERNAL", "ADDRESS_MISMATCH", "EXCESSIVE_REMOTE_PEERS",
        ]
        let request = PCP.announceRequest(client: PCP.bytes16("127.0.0.1")!)
        for (code, name) in names.enumerated() {
            let b = FakePCPServer.response(to: request, result: UInt8(code))
            let a = PCP.parse(b, op: .announce, nonce: nil, server: "127.0.0.1")
            #expect(a?.resultName == name)
            #expect(a?.result == code)
        }
        let odd = PCP.parse(FakePCPServer.response(to: request, result: 99), op: .announce, nonce: nil, server: "x")
        #expect(odd?.resultName == "result 99")
    }

    @Test func mapOverIPv4GetsTheAssignedAddressAndPort() throws {
        let server = try FakePCPServer { r in
            [FakePCPServer.response(to: r, lifetime: 3600, external: PCP.bytes16("203.0.113.9"), externalPort: 40001)]
        }
        defer { server.stop() }
        let loop = EventLoop()
        var answer: PCP.Answer?
        let nonce = PCP.newNonce()
        PCP.map(
            internalPort: 4242, suggestedPort: 4242, lifetime: 3600, nonce: nonce, server: "127.0.0.1",
            serverPort: server.port, on: loop
        ) { answer = $0 }
        drive(loop) { answer != nil }
        let a = try #require(answer)
        #expect(a.status == "answered" && a.resultName == "SUCCESS")
        #expect(a.externalAddress == "203.0.113.9" && a.externalPort == 40001)
        #expect(a.internalPort == 4242 && a.proto == "tcp" && a.lifetime == 3600 && a.epoch == 1234)
        #expect(a.nonce == PCP.hex(nonce) && a.internalAddress == "127.0.0.1" && a.tries == 1)
        let sent = try #require(server.requests.first)
        #expect(Array(sent[8..<24]) == PCP.bytes16("127.0.0.1"))
        #expect(Array(sent[24..<36]) == nonce)
    }

    @Test func mapOverIPv6AsksForAnIPv6ExternalAddress() throws {
        let server = try FakePCPServer(ipv6: true) { r in
            [FakePCPServer.response(to: r, external: PCP.bytes16("2001:db8::42"), externalPort: 4242)]
        }
        defer { server.stop() }
        let loop = EventLoop()
        var answer: PCP.Answer?
        PCP.map(internalPort: 4242, suggestedPort: 4242, server: "::1", serverPort: server.port, on: loop) {
            answer = $0
        }
        drive(loop) { answer != nil }
        #expect(answer?.externalAddress == "2001:db8::42")
        #expect(answer?.internalAddress == "::1")
        let sent = try #require(server.requests.first)
        #expect(Array(sent[8..<24]) == PCP.bytes16("::1"))
        #expect(Array(sent[44..<60]) == [UInt8](repeating: 0, count: 16))
    }

    /// Strangers before the answer — another request's nonce, garbage, a request echoed back, a
    /// reply to another opcode — are ignored: the client neither sends again nor stops waiting.
    @Test func repliesThatAreNotTheAnswerCauseNoResend() throws {
        let server = try FakePCPServer { r in
            [
                FakePCPServer.response(to: r, nonce: Array(repeating: 7, count: 12)),
                Array("garbage, not PCP".utf8), r,
                [2, 0x80, 0, 0] + [UInt8](repeating: 0, count: 20),
                FakePCPServer.response(to: r, external: PCP.bytes16("203.0.113.9"), externalPort: 4242),
            ]
        }
        defer { server.stop() }
        let loop = EventLoop()
        var answer: PCP.Answer?
        PCP.map(
            internalPort: 4242, suggestedPort: 4242, server: "127.0.0.1", serverPort: server.port, tries: 3,
            initialWait: .seconds(5), on: loop
        ) { answer = $0 }
        drive(loop) { answer != nil }
        #expect(answer?.externalAddress == "203.0.113.9")
        #expect(answer?.tries == 1)
        #expect(server.requests.count == 1)
    }

    @Test func onlyStrangersIsGarbledAfterTheTriesAndNoMore() throws {
        let server = try FakePCPServer { r in
            [FakePCPServer.response(to: r, nonce: Array(repeating: 7, count: 12)), Array("xx".utf8)]
        }
        defer { server.stop() }
        let loop = EventLoop()
        var answer: PCP.Answer?
        PCP.map(
            internalPort: 4242, suggestedPort: 4242, server: "127.0.0.1", serverPort: server.port, tries: 2,
            initialWait: .milliseconds(200), on: loop
        ) { answer = $0 }
        drive(loop) { answer != nil }
        #expect(answer?.status == "garbled")
        #expect(answer?.tries == 2)
        #expect(server.requests.count == 2)
    }

    @Test func aNATPMPServerSaysItSpeaksNoPCP() throws {
        // RFC 6886 3.5: a NAT-PMP server answers an unknown version with version 0 and result 1.
        let server = try FakePCPServer { r in [[0, 0x80 | r[1], 0, 1, 0, 0, 0x10, 0]] }
        defer { server.stop() }
        let loop = EventLoop()
        var answer: PCP.Answer?
        PCP.announce(server: "127.0.0.1", serverPort: server.port, on: loop) { answer = $0 }
        drive(loop) { answer != nil }
        #expect(answer?.status == "natpmp-only")
        #expect(answer?.resultName == "UNSUPP_VERSION")
        #expect(server.requests.count == 1)
    }

    @Test func anErrorWithoutTheMapFieldsIsStillTheAnswer() throws {
        let server = try FakePCPServer { r in
            [FakePCPServer.response(to: r, result: 2, lifetime: 30, withPayload: false)]
        }
        defer { server.stop() }
        let loop = EventLoop()
        var answer: PCP.Answer?
        PCP.map(internalPort: 80, suggestedPort: 80, server: "127.0.0.1", serverPort: server.port, on: loop) {
            answer = $0
        }
        drive(loop) { answer != nil }
        #expect(answer?.resultName == "NOT_AUTHORIZED" && answer?.lifetime == 30)
        #expect(answer?.externalAddress == nil)
    }

    @Test func silenceIsATimeoutAfterTheTriesWithinTheBound() throws {
        let server = try FakePCPServer { _ in [] }
        defer { server.stop() }
        let loop = EventLoop()
        var answer: PCP.Answer?
        let start = EventLoop.now()
        PCP.announce(
            server: "127.0.0.1", serverPort: server.port, tries: 3, initialWait: .milliseconds(100), on: loop
        ) { answer = $0 }
        drive(loop) { answer != nil }
        #expect(answer?.status == "timeout" && answer?.tries == 3)
        #expect(server.requests.count == 3)
        // Generous: proves it ended, not how fast (0.1 + 0.2 + 0.4 s, +10 %).
        #expect(EventLoop.now() - start < 10_000_000_000)
        #expect(PCP.bound(tries: 2) == .milliseconds(9900))
    }

    /// Hostile input: any bytes, any length, end in an answer or nil, never a crash.
    @Test func garbageNeverCrashesTheParser() {
        var g = SystemRandomNumberGenerator()
        let nonce = PCP.newNonce()
        for _ in 0..<4000 {
            var b = (0..<Int.random(in: 0...1200, using: &g)).map { _ in UInt8.random(in: 0...255, using: &g) }
            if b.count > 1 {
                b[0] = [0, 1, 2, 3].randomElement(using: &g)!
                b[1] = [0x80, 0x81, 0x01].randomElement(using: &g)!
            }
            if b.count >= 36, Bool.random(using: &g) { b.replaceSubrange(24..<36, with: nonce) }
            _ = PCP.parse(b, op: .map, nonce: nonce, server: "s")
            _ = PCP.parse(b, op: .announce, nonce: nil, server: "s")
        }
    }

    @Test func theDefaultIPv6RouterIsReadFromTheRouteTable() {
        let table = """
            fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0
            00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000002 00000000 00000003     eth0
            """
        #expect(Gateway.defaultIPv6(routeTable: table) == "fe80::1%eth0")
        #expect(Gateway.defaultIPv6(routeTable: "") == nil)
    }

    @Test func nonceRoundTripsAsHex() {
        let n = PCP.newNonce()
        #expect(PCP.nonce(hex: PCP.hex(n)) == n)
        #expect(PCP.nonce(hex: "zz") == nil)
    }
}
