import Foundation
import Testing

/// Each connect outcome produced for real: a server namespace with nftables rules, a client
/// namespace running `portdoctor probe connect`, and the status asserted exactly.
@Suite(.serialized, .enabled(if: NetworkLab.shouldRun, "needs root, iproute2 and nftables (always required under CI)"))
struct ConnectOutcomeLabTests {
    static let serverRules = """
        table inet lab {
          chain input {
            type filter hook input priority 0; policy accept;
            tcp dport 7001 drop
            tcp dport 7002 reject with tcp reset
            tcp dport 7003 reject with icmpx type admin-prohibited
            tcp dport 7004 reject with icmp type host-unreachable
          }
        }
        """

    static let clientRules = """
        table inet lab {
          chain output {
            type filter hook output priority 0; policy accept;
            tcp dport 7005 drop
            tcp dport 7006 reject with tcp reset
          }
        }
        """

    func connect(_ lab: NetworkLab, _ ns: String, _ host: String, _ port: Int) throws -> [String: Any] {
        let (_, out) = try lab.exec(
            ns, [portdoctorBinary, "probe", "connect", host, String(port), "--timeout", "1", "--json"])
        return try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any], "output: \(out)")
    }

    @Test func everyOutcomeIsClassifiedExactly() throws {
        try NetworkLab.requireAvailable()
        let lab = NetworkLab()
        defer { lab.tearDown() }
        let client = try lab.namespace("c")
        let server = try lab.namespace("s")
        try lab.link(client, "10.231.7.1/24", server, "10.231.7.2/24")
        try lab.nft(server, Self.serverRules)
        try lab.nft(client, Self.clientRules)
        try lab.listener(server, port: 7000)
        // Wait for the listener (bounded).
        var up = false
        for _ in 0..<50 where !up {
            up = (try connect(lab, client, "10.231.7.2", 7000))["status"] as? String == "connected"
            if !up { usleep(100_000) }
        }
        #expect(up, "the listener in the server namespace never came up")

        let expected: [(Int, String, String)] = [
            (7000, "10.231.7.2", "connected"),
            (7009, "10.231.7.2", "refused"),  // nothing listens: a plain RST
            (7001, "10.231.7.2", "timeout"),  // drop
            (7002, "10.231.7.2", "refused"),  // reject with tcp reset
            (7003, "10.231.7.2", "host-unreachable"),  // reject with icmpx admin-prohibited
            (7004, "10.231.7.2", "host-unreachable"),  // reject with icmp host-unreachable
            (7000, "10.232.0.1", "net-unreachable"),  // no route from the client
            // The client's own output chain dropping the SYN: TCP retransmits and times out, exactly
            // like a remote drop. Only reading the local firewall (the firewall check) tells them apart.
            (7005, "10.231.7.2", "timeout"),
            (7006, "10.231.7.2", "refused"),  // the client's own output chain rejects it
        ]
        for (port, host, status) in expected {
            let r = try connect(lab, client, host, port)
            #expect(r["status"] as? String == status, "\(host):\(port) → \(r["status"] ?? "?") (\(r["error"] ?? ""))")
        }
    }
}
