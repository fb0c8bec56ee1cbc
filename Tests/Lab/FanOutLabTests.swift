import Foundation
import Testing

/// 1,000 connects at once from a client namespace: half to a listener, half to a namespace that
/// drops everything. Every one is classified and no file descriptor is left open afterwards.
@Suite(.serialized, .enabled(if: NetworkLab.shouldRun, "needs root, iproute2 and nftables (always required under CI)"))
struct FanOutLabTests {
    @Test func aThousandConnectsHalfDroppedLeaveNothingOpen() throws {
        try NetworkLab.requireAvailable()
        let lab = NetworkLab()
        defer { lab.tearDown() }
        let client = try lab.namespace("c")
        let live = try lab.namespace("l")
        let black = try lab.namespace("d")
        try lab.link(client, "10.231.8.1/24", live, "10.231.8.2/24")
        try lab.link(client, "10.231.9.1/24", black, "10.231.9.2/24")
        try lab.nft(
            black, "table inet lab {\n  chain input {\n    type filter hook input priority 0; policy drop;\n  }\n}\n")
        try lab.listener(live, port: 7100, backlog: 2048)
        try lab.waitUntilListening(live, 7100)
        let (status, out) = try lab.exec(
            client,
            [
                portdoctorBinary, "bench", "fan-out", "--count", "1000",
                "--target", "10.231.8.2:7100", "--target", "10.231.9.2:7100",
                "--timeout", "1",
            ])
        #expect(status == 0, "\(out)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any], "\(out)")
        #expect((report["statuses"] as? [String: Int]) == ["connected": 500, "timeout": 500])
        #expect(report["descriptors_before"] as? Int == report["descriptors_after"] as? Int)
    }
}
