import Foundation
import Testing

@testable import Probes

/// macOS and Windows firewalls from their tools' output. No such machine is here: the fixtures
/// follow the tools' documented formats (English and German netsh).
@Suite struct DesktopFirewallTests {
    static func fixture(_ name: String) throws -> String {
        let url = try #require(Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: "txt"))
        return try String(contentsOf: url, encoding: .utf8)
    }

    static let apps = """
        ALF: total number of apps = 3

        1 :  /Applications/CrashPlan.app
         \t ( Allow incoming connections )

        2 :  /usr/libexec/sshd-keygen-wrapper
         \t ( Allow incoming connections )

        3 :  /Applications/OldBackup.app
         \t ( Block incoming connections )
        """

    func mac(enabled: Bool = true, blockAll: Bool = false) -> MacApplicationFirewall {
        MacApplicationFirewall(
            globalState: enabled ? "Firewall is enabled. (State = 1)" : "Firewall is disabled. (State = 0)",
            blockAll: blockAll
                ? "Firewall is set to block all non-essential incoming connections"
                : "Firewall has block all state set to disabled.",
            allowSigned: "Automatically allow signed built-in software ENABLED", listApps: Self.apps)
    }

    @Test func macDecidesPerApplication() {
        func ask(_ program: String?) -> FirewallVerdict {
            mac().evaluate(FirewallQuestion(direction: .inbound, port: 4242, program: program))
        }
        #expect(ask("/Applications/CrashPlan.app").decision == .allow)
        #expect(ask("/Applications/CrashPlan.app/Contents/MacOS/CrashPlanService").decision == .allow)
        let blocked = ask("/Applications/OldBackup.app")
        #expect(blocked.decision == .drop)
        #expect(
            blocked.fix
                == "sudo /usr/libexec/ApplicationFirewall/socketfilterfw --add /Applications/OldBackup.app && sudo /usr/libexec/ApplicationFirewall/socketfilterfw --unblockapp /Applications/OldBackup.app"
        )
        let unlisted = ask("/Applications/New.app")
        #expect(unlisted.decision == .unknown)
        #expect(unlisted.note?.contains("After an update the app can count as new") == true)
        #expect(ask(nil).note == "the macOS firewall decides per application: name the program that listens")
        #expect(mac(enabled: false).evaluate(FirewallQuestion(direction: .inbound, port: 1)).decision == .allow)
        #expect(
            mac(blockAll: true).evaluate(
                FirewallQuestion(direction: .inbound, port: 4242, program: "/Applications/CrashPlan.app")
            ).decision == .drop)
        #expect(mac().evaluate(FirewallQuestion(direction: .outbound, port: 4242)).decision == .allow)
    }

    @Test func pfLastMatchWinsUnlessQuick() {
        let rules = """
            scrub-anchor "com.apple/*" all fragment reassemble
            anchor "com.apple/*" all
            block drop in all
            pass in proto tcp from any to any port 22 flags S/SA keep state
            pass in proto tcp from 10.0.0.0/8 to any port { 4242, 5000:5100 } flags S/SA keep state
            block return in quick proto tcp from any to any port 6000
            pass in proto tcp from any to any port 6000 flags S/SA keep state
            """
        let pf = PacketFilter(info: "Status: Enabled for 0 days 01:12:03           Debug: Urgent\n", rules: rules)
        func ask(_ port: UInt16, _ remote: String? = "10.1.2.3") -> FirewallVerdict {
            pf.evaluate(FirewallQuestion(direction: .inbound, port: port, remote: remote))
        }
        #expect(ask(22).decision == .allow)
        #expect(ask(4242).decision == .allow)
        #expect(ask(5050).decision == .allow)
        #expect(ask(4242, "192.0.2.7").decision == .drop)
        #expect(ask(4242, nil).decision == .unknown)
        #expect(ask(6000).decision == .reject)  // quick: the later pass never counts
        #expect(ask(7000).rule == "block drop in all")
        #expect(pf.evaluate(FirewallQuestion(direction: .outbound, port: 443)).decision == .allow)
        #expect(
            PacketFilter(info: "Status: Disabled for 0 days\n", rules: rules).evaluate(
                FirewallQuestion(direction: .inbound, port: 7000)
            ).decision == .allow)
    }

    @Test func windowsRulesInEnglish() throws {
        let fw = WindowsFirewall(
            rules: try Self.fixture("windows-netsh-rules-en"), profile: try Self.fixture("windows-netsh-profile-en"))
        func ask(_ port: UInt16, _ program: String? = nil) -> FirewallVerdict {
            fw.evaluate(FirewallQuestion(direction: .inbound, port: port, program: program))
        }
        #expect(ask(4242).decision == .allow)
        #expect(ask(4242).rule == "rule “CrashPlan backup port”")
        #expect(ask(5050).decision == .drop)  // the block rule wins
        #expect(ask(6000).decision == .unknown)  // only a program rule could allow it
        #expect(ask(6000, #"C:\Program Files\Code42\Code42Service.exe"#).decision == .allow)
        let closed = ask(7000, #"C:\Other.exe"#)
        #expect(closed.decision == .drop && closed.rule == "the profile's default: block inbound")
        #expect(
            closed.fix
                == #"netsh advfirewall firewall add rule name="portdoctor TCP 7000" dir=in action=allow protocol=TCP localport=7000"#
        )
        #expect(fw.evaluate(FirewallQuestion(direction: .outbound, port: 443)).decision == .allow)
    }

    @Test func windowsRulesInGerman() throws {
        let fw = WindowsFirewall(
            rules: try Self.fixture("windows-netsh-rules-de"),
            profile:
                "Status                                EIN\nFirewallrichtlinie                    BlockInbound,AllowOutbound\n"
        )
        #expect(fw.evaluate(FirewallQuestion(direction: .inbound, port: 4242)).decision == .allow)
        #expect(fw.evaluate(FirewallQuestion(direction: .inbound, port: 4243)).decision == .drop)
        let off = WindowsFirewall(rules: "", profile: "Status                                AUS\n")
        #expect(off.evaluate(FirewallQuestion(direction: .inbound, port: 4243)).decision == .allow)
    }
}
