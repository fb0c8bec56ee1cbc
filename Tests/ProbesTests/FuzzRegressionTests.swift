import Foundation
import Testing

@testable import Probes

/// Replays the fuzz seeds and every finding (Fixtures/fuzz-seeds, Fixtures/fuzz-regressions, one
/// folder per target) through the same target code the fuzzer runs (FuzzTargets/): a crash kills
/// this test, a broken invariant fails it.
@Suite struct FuzzRegressionTests {
    static func cases(_ kind: String) -> [String] {
        guard let root = Bundle.module.url(forResource: "Fixtures/\(kind)", withExtension: nil) else { return [] }
        let files =
            FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil)?
            .compactMap { $0 as? URL }.filter { !$0.hasDirectoryPath } ?? []
        return files.map { "\(kind)/\($0.deletingLastPathComponent().lastPathComponent)/\($0.lastPathComponent)" }
            .sorted()
    }

    static func replay(_ item: String) throws {
        let target = try #require(FuzzTargets.named(String(item.split(separator: "/")[1])), "no target for \(item)")
        let url = try #require(Bundle.module.url(forResource: "Fixtures/\(item)", withExtension: nil))
        try target.run(Array(try Data(contentsOf: url)))
    }

    @Test("every fuzz finding, fixed, stays fixed", arguments: cases("fuzz-regressions"))
    func regression(_ item: String) throws { try Self.replay(item) }

    @Test("every fuzz seed passes its target's invariants", arguments: cases("fuzz-seeds"))
    func seed(_ item: String) throws { try Self.replay(item) }

    @Test func everyTargetHasSeeds() {
        let seeded = Set(Self.cases("fuzz-seeds").map { $0.split(separator: "/")[1] })
        for t in FuzzTargets.all { #expect(seeded.contains(Substring(t.name)), "no seeds for \(t.name)") }
    }

    // The findings as plain unit tests, so each names the bug it pins down.
    @Test func reversedIPTablesPortRangeMatchesNothing() {
        let rules = IPTablesRuleset(
            text: "*filter\n:INPUT DROP [0:0]\n-A INPUT -p tcp --dport 90:80 -j ACCEPT\nCOMMIT\n")
        #expect(rules.evaluate(FirewallQuestion(direction: .inbound, proto: .tcp, port: 85)).decision != .allow)
    }

    @Test func iptablesSourceOfOnlyASlashMatchesNothing() {
        let rules = IPTablesRuleset(text: "*filter\n:INPUT DROP [0:0]\n-A INPUT -s / -p tcp -j ACCEPT\nCOMMIT\n")
        #expect(
            rules.evaluate(FirewallQuestion(direction: .inbound, proto: .tcp, port: 22, remote: "192.0.2.7")).decision
                != .allow)
    }

    @Test func reflectorOptionsSplitWhereTheEqualsSignWasFound() throws {
        let url = try #require(
            Bundle.module.url(forResource: "Fixtures/fuzz-regressions/reflector/equals-in-a-larger-character", withExtension: nil))
        let line = String(decoding: try Data(contentsOf: url), as: UTF8.self)
        if case .success = ReflectorProtocol.parse(line) { Issue.record("a stranger's garbage parsed as a request") }
        #expect(ReflectorProtocol.parse("PORTDOCTOR/1 CONNECT-BACK 4242 timeout=2 =x") == .success(
            .connectBack(port: 4242, timeout: 2, token: nil)))
    }

    @Test func aPairedBodyEndingInACarriageReturnOpensToItself() throws {
        let key = PairingProtocol.deriveKeys(secret: "s", clientNonce: [], peerNonce: [], session: "s").toPeer
        let body = Array("{\"type\":\"bye\"}\r".utf8)
        let sealed = PairingProtocol.seal(body, seq: 3, session: "s", key: key)
        #expect(PairingProtocol.open(sealed, expecting: 3, session: "s", key: key) == .success(body))
    }

    @Test func anEmptyElementIsAnEmptyBlock() {
        #expect(MiniXML.blocks("errorCode", in: "<s:Body><errorCode/>718</errorCode></s:Body>") == [""])
    }

    @Test func reflectorRequestWithALoneEqualsIsParsed() {
        #expect(ReflectorProtocol.parse("PORTDOCTOR/1 HELLO =") == .success(.hello(token: nil)))
        #expect(ReflectorProtocol.parse("PORTDOCTOR/1 HELLO token=") == .success(.hello(token: "")))
    }

    @Test func chunkSizesFromTheRouterAreBounded() {
        #expect(MiniHTTP.dechunk(Array("-5\r\nhello\r\n0\r\n\r\n".utf8)) == nil)
        #expect(MiniHTTP.dechunk(Array("1\r\nX".utf8)) == nil)
        #expect(MiniHTTP.dechunk(Array("5\r\nhello\r\n0\r\n\r\n".utf8)) == Array("hello".utf8))
    }

    @Test func negativeContentLengthIsMalformed() {
        let answer = Array("HTTP/1.1 200 OK\r\nContent-Length: -3\r\n\r\nabc".utf8)
        guard case .failure(.malformed(let why))? = MiniHTTP.parse(answer, maxBytes: 100, complete: true) else {
            Issue.record("a negative Content-Length was not called malformed")
            return
        }
        #expect(why.contains("Content-Length"))
    }

    @Test func lsofNameOfJustAnArrowIsSkipped() {
        #expect(NetstatParsers.lsofFields("p1\ncx\nf3\nPTCP\nn->\n").isEmpty)
    }

    @Test func nftDecodeErrorSaysWhereItStopped() {
        #expect {
            try NFTRuleset(json: Array("{\"nftables\": [1,\n 2,, 3]}".utf8))
        } throws: { error in
            let text = String(describing: error)
            return text.contains("line 2, column 4")
        }
    }

    @Test func nftReversedRangeMatchesNothing() throws {
        let json = #"""
            {"nftables":[{"chain":{"family":"inet","table":"f","name":"in","hook":"input","prio":0,"policy":"drop"}},
            {"rule":{"family":"inet","table":"f","chain":"in","handle":1,"expr":[
            {"match":{"op":"==","left":{"payload":{"protocol":"tcp","field":"dport"}},"right":{"set":[{"range":[90,80]}]}}},
            {"accept":null}]}}]}
            """#
        let rules = try NFTRuleset(json: Array(json.utf8))
        #expect(rules.evaluate(FirewallQuestion(direction: .inbound, proto: .tcp, port: 85)).decision != .allow)
    }

    @Test func nftPriorityNoIntHoldsIsIgnored() throws {
        let json = #"{"nftables":[{"chain":{"family":"inet","table":"f","name":"c","hook":"input","prio":1e300}}]}"#
        let rules = try NFTRuleset(json: Array(json.utf8))
        #expect(rules.chains["inet f c"]?.priority == 0)
    }

    #if canImport(Glibc)
        @Test func sockDiagErrorCodeThatCannotBeNegatedIsAnError() {
            var entries: [SocketEntry] = []
            let message: [UInt8] = [20, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80]
            #expect(throws: (any Error).self) {
                try SockDiag.messages(message, count: message.count, proto: .tcp, family: .ipv4, into: &entries)
            }
        }

        @Test func sockDiagErrorTooShortForItsCodeIsAnError() {
            var entries: [SocketEntry] = []
            let header: [UInt8] = [16, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]
            #expect(throws: (any Error).self) {
                try SockDiag.messages(header, count: header.count, proto: .tcp, family: .ipv4, into: &entries)
            }
        }
    #endif
}
