import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The primitives run by the release binary as an unprivileged user (nobody, through setpriv inside
/// the lab's namespace) against real tools started by the test as root: each says `no-permission`
/// for what it may not see, and root sees it. And supervisord as people configure it: its config
/// file outside the default path, found from its command line or given with --config.
@Suite(.serialized, .enabled(if: NetworkLab.shouldRun, "needs root, iproute2, nftables and runit"))
struct UnprivilegedProbeLabTests {
    static let nobody = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/env",
                         "HOME=/nonexistent"]

    static func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "\(text)")
    }

    @Test func theFirewallThisUserMayNotReadIsNoPermission() throws {
        try NetworkLab.requireAvailable()
        let lab = NetworkLab()
        defer { lab.tearDown() }
        let ns = try lab.namespace("f")
        try lab.nft(ns, "table inet pdhost {\n chain input {\n type filter hook input priority 0; policy accept;\n tcp dport 4242 drop\n }\n}\n")
        let argv = [portdoctorBinary, "probe", "firewall", "--port", "4242", "--format", "json"]
        let user = try lab.exec(ns, Self.nobody + argv)
        #expect(user.status == 2, "cannot tell: \(user.output)")
        let v = try Self.json(user.output)
        #expect(v["decision"] as? String == "no-permission")
        #expect((v["note"] as? String)?.contains("Operation not permitted") == true, "\(v)")
        let root = try lab.exec(ns, argv)
        let decided = try Self.json(root.output)
        #expect(root.status == 1 && decided["decision"] as? String == "drop", "\(root.output)")
    }

    @Test func aListenerOfRootsHasAnOwnerThisUserMayNotSee() throws {
        try NetworkLab.requireAvailable()
        let lab = NetworkLab()
        defer { lab.tearDown() }
        let ns = try lab.namespace("n")
        try lab.listener(ns, port: 4242)
        for _ in 0..<100 where (try lab.exec(ns, ["/usr/bin/env", "ss", "-Htln", "sport = :4242"])).output.isEmpty {
            usleep(50_000)
        }
        let argv = [portdoctorBinary, "probe", "netstat", "--port", "4242", "--state", "LISTEN", "--format", "json"]
        let user = try lab.exec(ns, Self.nobody + argv)
        let seen = try #require(
            (try JSONSerialization.jsonObject(with: Data(user.output.utf8)) as? [[String: Any]])?.first,
            "\(user.output)")
        #expect(seen["owner"] == nil && seen["access"] as? String == "no-permission", "\(seen)")
        #expect(seen["uid"] as? Int == 0)
        let root = try lab.exec(ns, argv)
        let owned = try #require((try JSONSerialization.jsonObject(with: Data(root.output.utf8)) as? [[String: Any]])?.first)
        #expect(owned["owner"] != nil && owned["access"] == nil, "\(owned)")
    }

    @Test func runitsSuperviseFolderIsRootsOnly() throws {
        try NetworkLab.requireAvailable()
        let lab = NetworkLab()
        defer { lab.tearDown() }
        let ns = try lab.namespace("r")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pd-unpriv-runit-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let service = dir.appendingPathComponent("backupd")
        try FileManager.default.createDirectory(at: service, withIntermediateDirectories: true)
        chmod(dir.path, 0o755)
        try "#!/bin/sh\nexec sleep 600\n".write(
            to: service.appendingPathComponent("run"), atomically: true, encoding: .utf8)
        chmod(service.appendingPathComponent("run").path, 0o755)
        let runsv = try #require(
            ["/usr/bin/runsv", "/usr/sbin/runsv"].first { FileManager.default.isExecutableFile(atPath: $0) })
        try lab.start(ns, [runsv, service.path])
        let argv = [portdoctorBinary, "probe", "service", service.path, "--manager", "runit", "--format", "json"]
        for _ in 0..<100 where (try? lab.exec(ns, argv))?.status != 0 { usleep(50_000) }
        let root = try lab.exec(ns, argv)
        #expect(root.status == 0, "root sees it run: \(root.output)")
        let user = try lab.exec(ns, Self.nobody + argv)
        #expect(user.status == 2, "cannot tell, not 'not running': \(user.output)")
        let s = try Self.json(user.output)
        #expect(s["state"] as? String == "no-permission" && s["access"] as? String == "no-permission", "\(s)")
        #expect((s["access_error"] as? String)?.hasSuffix("unable to open supervise/ok: access denied") == true)
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/supervisord"), "apt install supervisor"))
    func supervisordWithItsConfigElsewhere() throws {
        try NetworkLab.requireAvailable()
        let lab = NetworkLab()
        defer { lab.tearDown() }
        let ns = try lab.namespace("s")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pd-unpriv-sup-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        chmod(dir.path, 0o755)
        let conf = dir.appendingPathComponent("backup-supervisor.conf").path
        // Debian's own settings: the control socket is root's only (chmod=0700).
        try """
            [unix_http_server]
            file=\(dir.path)/supervisor.sock
            chmod=0700

            [supervisord]
            logfile=\(dir.path)/supervisord.log
            pidfile=\(dir.path)/supervisord.pid
            childlogdir=\(dir.path)

            [rpcinterface:supervisor]
            supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

            [supervisorctl]
            serverurl=unix://\(dir.path)/supervisor.sock

            [program:backupd]
            command=/bin/sleep 600

            [program:idle]
            command=/bin/sleep 600
            autostart=false

            """.write(toFile: conf, atomically: true, encoding: .utf8)
        chmod(conf, 0o644)
        try lab.start(ns, ["/usr/bin/supervisord", "-n", "-c", conf])
        let found = [portdoctorBinary, "probe", "service", "backupd", "--manager", "supervisord", "--format", "json"]
        for _ in 0..<200 where (try? lab.exec(ns, found))?.status != 0 { usleep(50_000) }
        // No --config: the file is the one the running supervisord was started with.
        let running = try lab.exec(ns, found)
        #expect(running.status == 0, "\(running.output)")
        let state = try Self.json(running.output)["state"] as? String
        #expect(state == "RUNNING")
        let idle = try lab.exec(
            ns, [portdoctorBinary, "probe", "service", "idle", "--manager", "supervisord", "--config", conf])
        #expect(idle.status == 1, "\(idle.output)")
        let restart = try lab.exec(
            ns, [portdoctorBinary, "probe", "service", "backupd", "--manager", "supervisord", "--restart-command"])
        #expect(restart.output.contains("supervisorctl -c \(conf) restart backupd"), "\(restart.output)")
        // The socket is root's: another user is told "cannot tell", not "stopped" nor "not installed".
        let user = try lab.exec(ns, Self.nobody + found)
        #expect(user.status == 2, "\(user.output)")
        let s = try Self.json(user.output)
        #expect(s["state"] as? String == "no-permission", "\(s)")
        #expect((s["access_error"] as? String)?.contains("Permission denied") == true, "\(s)")
    }
}
