import Foundation
import Testing

/// A computer with no route to where it is asked to go is told so at once, not after every retry.
@Suite(.enabled(if: NetworkLab.shouldRun, "needs root, iproute2 and nftables (always required under CI)"))
struct NoRouteLabTests {
    @Test func stunWithNoRouteSaysSoAtOnce() throws {
        try NetworkLab.requireAvailable()
        let lab = NetworkLab()
        defer { lab.tearDown() }
        let alone = try lab.namespace("alone")  // loopback only: no route anywhere
        let r = try lab.exec(alone, [portdoctorBinary, "probe", "stun", "198.51.100.9"])
        #expect(r.status == 1)
        #expect(r.output.contains("this computer has no route to it (net-unreachable)"), "\(r.output)")
        let json = try lab.exec(alone, [portdoctorBinary, "probe", "stun", "198.51.100.9", "--format", "json"])
        let answer = try #require(try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any])
        #expect(answer["status"] as? String == "net-unreachable", "\(answer)")
    }
}
