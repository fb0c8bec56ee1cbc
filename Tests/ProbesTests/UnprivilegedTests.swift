import Foundation
import Testing

@testable import Probes

/// What the real tools print to a user without administrator rights, read as "cannot tell"
/// (`no-permission`), never as "stopped", "not installed" or "allowed". Fixtures/unprivileged was
/// recorded on Debian 12 (runit 2.1.2, nftables 1.0.6, iptables 1.8.9, supervisor 4.2.5) with the
/// daemons started as root in a scratch namespace and each tool run as a fresh user
/// (`runuser -u pdtest -- sv status DIR`, `… nft list tables`, `… supervisorctl -c FILE status NAME`),
/// standard error included; the `root` files are root's answers to the same questions.
@Suite struct UnprivilegedOutputTests {
    static func fixture(_ name: String) throws -> String {
        let url = try #require(Bundle.module.url(forResource: "Fixtures/unprivileged/\(name)", withExtension: "txt"))
        return try String(contentsOf: url, encoding: .utf8)
    }

    @Test func runitAccessDeniedIsNoPermissionNotDown() throws {
        for file in ["runit-sv-status-access-denied", "runit-sv-status-svdir-access-denied"] {
            let s = ServiceParsers.runit(try Self.fixture(file), name: "demo")
            #expect(s.state == "no-permission" && s.access == "no-permission", "\(file): \(s.state)")
            #expect(s.installed && !s.running && s.pid == nil)
            #expect(s.accessError?.hasSuffix("unable to open supervise/ok: access denied") == true)
        }
        // runsv not running at all is no question of rights: the service is not supervised.
        let bare = ServiceParsers.runit(try Self.fixture("runit-sv-status-not-supervised"), name: "x")
        #expect(bare.access == nil && !bare.running)
        // And root's answer is still read as before.
        let root = ServiceParsers.runit(try Self.fixture("runit-sv-status-root"), name: "demo")
        #expect(root.access == nil && root.state == "down" && root.installed)
    }

    @Test func supervisorctlPermissionErrorIsNoPermission() throws {
        for name in ["demo", "stopped", "nope"] {
            let s = ServiceParsers.supervisord(try Self.fixture("supervisorctl-pdtest-\(name)"), name: name)
            #expect(s.state == "no-permission" && s.installed && !s.running, "\(name): \(s.state)")
            #expect(s.accessError?.contains("Permission denied") == true)
        }
        let config = ServiceParsers.supervisord(try Self.fixture("supervisorctl-pdtest-unreadable-config"), name: "demo")
        #expect(config.access == "no-permission")
        #expect(config.accessError == "Error: could not read config file /tmp/pdrec/sup/supervisord.conf")
        // What root sees through the same config file.
        let up = ServiceParsers.supervisord(try Self.fixture("supervisorctl-root-demo"), name: "demo")
        #expect(up.running && up.pid == 26252 && up.access == nil)
        let stopped = ServiceParsers.supervisord(try Self.fixture("supervisorctl-root-stopped"), name: "stopped")
        #expect(!stopped.running && stopped.installed && stopped.state == "STOPPED")
        let missing = ServiceParsers.supervisord(try Self.fixture("supervisorctl-root-nope"), name: "nope")
        #expect(!missing.installed && missing.access == nil)
        // No supervisord at the default socket: not a question of rights.
        let absent = ServiceParsers.supervisord(try Self.fixture("supervisorctl-pdtest-default-missing"), name: "demo")
        #expect(absent.access == nil && !absent.installed)
    }

    @Test func systemdAccessDeniedIsNoPermission() {
        // systemctl's words when polkit or the bus policy refuses the user (systemd's own message format).
        let s = ServiceParsers.systemd("Failed to get properties: Access denied\n", name: "crashplan")
        #expect(s.state == "no-permission" && s.installed && s.accessError == "Failed to get properties: Access denied")
        // A property that merely mentions a refusal is no refusal.
        let up = ServiceParsers.systemd(
            "LoadState=loaded\nActiveState=active\nSubState=running\nMainPID=9\nStatusText=Permission denied once\n",
            name: "x")
        #expect(up.running && up.access == nil)
    }

    @Test func theToolsRefusalsAreRecognised() throws {
        for file in ["nft-list-tables", "nft-j-list-ruleset", "iptables-nft-save", "iptables-legacy-save"] {
            #expect(Access.refused(try Self.fixture(file)), "\(file)")
        }
        #expect(!Access.refused("table inet filter\n"))
        let v = Firewall.noPermission(tool: "nftables", words: try Self.fixture("nft-list-tables"))
        #expect(v.decision == .noPermission && v.decision.rawValue == "no-permission")
        #expect(v.note == "reading the firewall rules needs administrator rights (nftables says: Operation not permitted (you must be root))")
    }
}

/// Service managers as people configure them: supervisord with its config elsewhere, systemd user services.
@Suite struct ServiceConfigurationTests {
    @Test(arguments: [
        (["/usr/bin/python3", "/usr/bin/supervisord", "-c", "/srv/sup.conf"], "/srv/sup.conf"),
        (["/usr/bin/python3", "/usr/bin/supervisord", "-n", "-c/srv/sup.conf"], "/srv/sup.conf"),
        (["/usr/local/bin/supervisord", "--configuration", "/opt/s.conf"], "/opt/s.conf"),
        (["/usr/local/bin/supervisord", "--nodaemon", "--configuration=/opt/s.conf"], "/opt/s.conf"),
        (["/usr/bin/python3", "/usr/bin/supervisord", "-n"], nil),
        (["/usr/bin/python3", "-c", "x", "/usr/bin/other"], nil),
    ] as [([String], String?)])
    func supervisordsConfigFromItsCommandLine(arguments: [String], config: String?) {
        #expect(ServiceParsers.supervisordConfig(arguments: arguments) == config)
    }

    @Test func supervisorctlIsGivenTheConfigFile() {
        #expect(
            Services.statusCommand("demo", .supervisord, config: "/srv/sup.conf")
                == ["supervisorctl", "-c", "/srv/sup.conf", "status", "demo"])
        #expect(Services.statusCommand("demo", .supervisord) == ["supervisorctl", "status", "demo"])
        #expect(
            Services.restartCommands("demo", .supervisord, config: "/srv/sup.conf")
                == [["supervisorctl", "-c", "/srv/sup.conf", "restart", "demo"]])
    }

    @Test func systemdUserServices() {
        #expect(Services.statusCommand("backup", .systemdUser).prefix(3) == ["systemctl", "--user", "show"])
        #expect(Services.restartCommands("backup", .systemdUser) == [["systemctl", "--user", "restart", "backup"]])
        // `systemctl --user show` prints the system instance's format (recorded shape, systemd 252).
        let text = """
            LoadState=loaded
            ActiveState=active
            SubState=running
            MainPID=2211
            UnitFileState=enabled
            ControlGroup=/user.slice/user-1000.slice/user@1000.service/app.slice/backup.service

            """
        let s = ServiceParsers.systemd(text, name: "backup", manager: .systemdUser)
        #expect(s.manager == .systemdUser && s.running && s.pid == 2211 && s.enabled == true)
        #expect(s.cgroup == "/user.slice/user-1000.slice/user@1000.service/app.slice/backup.service")
    }
}

/// The socket table's owners: another user's are hidden, and said to be.
@Suite struct HiddenOwnerTests {
    @Test func socketsOfOtherUsersWithUnlistableFilesAreNoPermission() throws {
        // A /proc of one process whose fd folder cannot be opened: the socket of uid 0 is hidden.
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pd-hidden-\(getpid())")
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(
            at: root.appendingPathComponent("77"), withIntermediateDirectories: true)
        // No fd folder at all is "not found", not "denied": nothing is claimed.
        var entries = [
            SocketEntry(
                proto: .tcp, family: .ipv4, state: "LISTEN", local: SocketAddress(family: .ipv4, ip: "0.0.0.0", port: 4242),
                remote: nil, inode: 991)
        ]
        entries[0].uid = 0
        SocketTable.attachOwners(&entries, procRoot: root.path, user: 1001)
        #expect(entries[0].owner == nil && entries[0].access == nil)
    }

    @Test func procNetAndSockDiagGiveTheUid() throws {
        let url = try #require(Bundle.module.url(forResource: "Fixtures/proc-net-tcp", withExtension: "txt"))
        let entries = ProcNet.parse(try String(contentsOf: url, encoding: .utf8), proto: .tcp, family: .ipv4)
        #expect(!entries.isEmpty && entries.allSatisfy { $0.uid != nil })
        // sock_diag, for real: this process's own listener is its uid's.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, 16) } }
        #expect(listen(fd, 1) == 0)
        var len = socklen_t(16)
        _ = withUnsafeMutablePointer(to: &a) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        let port = UInt16(bigEndian: a.sin_port)
        let mine = SocketTable.list(.listening(port: port), source: .netlink)
        #expect(mine.first?.uid == geteuid())
        #expect(mine.first?.access == nil && mine.first?.owner?.pid == getpid())
    }
}
