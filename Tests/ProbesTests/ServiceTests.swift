import Foundation
import Reactor
import Testing

@testable import Probes

#if canImport(Glibc)
    import Glibc
#endif

/// Service managers' own output, parsed; and runit for real.
@Suite struct ServiceParserTests {
    @Test func runitLines() {
        let up = ServiceParsers.runit(
            "run: /etc/sv/crashplan: (pid 1234) 56s; run: log: (pid 1230) 57s\n", name: "crashplan")
        #expect(up.running && up.installed && up.pid == 1234 && up.seconds == 56)
        let down = ServiceParsers.runit("down: /etc/sv/crashplan: 3s, normally up\n", name: "crashplan")
        #expect(!down.running && down.installed && down.enabled == true && down.seconds == 3)
        let missing = ServiceParsers.runit(
            "fail: crashplan: unable to change to service directory: file does not exist\n", name: "crashplan")
        #expect(!missing.installed)
    }

    @Test func systemdShowProperties() {
        let up = ServiceParsers.systemd(
            "LoadState=loaded\nActiveState=active\nSubState=running\nMainPID=812\nUnitFileState=enabled\n",
            name: "crashplan")
        #expect(up.running && up.pid == 812 && up.enabled == true && up.state == "active (running)")
        let grouped = ServiceParsers.systemd(
            "LoadState=loaded\nActiveState=active\nMainPID=812\nControlGroup=/system.slice/crashplan.service\n",
            name: "crashplan")
        #expect(grouped.cgroup == "/system.slice/crashplan.service")
        #expect(up.cgroup == nil)
        #expect(Services.statusCommand("crashplan", .systemd).last?.hasSuffix(",ControlGroup") == true)
        let failed = ServiceParsers.systemd(
            "LoadState=loaded\nActiveState=failed\nSubState=failed\nMainPID=0\nUnitFileState=disabled\n",
            name: "crashplan")
        #expect(!failed.running && failed.pid == nil && failed.enabled == false)
        let missing = ServiceParsers.systemd(
            "LoadState=not-found\nActiveState=inactive\nSubState=dead\nMainPID=0\nUnitFileState=\n", name: "nope")
        #expect(!missing.installed && missing.enabled == nil)
    }

    @Test func openrcStatus() {
        #expect(ServiceParsers.openrc(" * status: started\n", name: "sshd").running)
        #expect(!ServiceParsers.openrc(" * status: stopped\n", name: "sshd").running)
        #expect(!ServiceParsers.openrc(" * rc-service: service `nope' does not exist\n", name: "nope").installed)
    }

    /// Recorded here from a real supervisord 4 (Fixtures/supervisorctl-status.txt: three `status` calls).
    @Test func supervisordStatusRecorded() throws {
        let url = try #require(Bundle.module.url(forResource: "Fixtures/supervisorctl-status", withExtension: "txt"))
        let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map(String.init)
        let up = ServiceParsers.supervisord(lines[0], name: "backupd")
        #expect(up.running && up.installed && (up.pid ?? 0) > 0 && up.seconds != nil)
        let stopped = ServiceParsers.supervisord(lines[1], name: "stopped")
        #expect(stopped.installed && !stopped.running && stopped.state == "STOPPED")
        let missing = ServiceParsers.supervisord(lines[2], name: "nope")
        #expect(!missing.installed)
        let long = ServiceParsers.supervisord(
            "crashplan                        RUNNING   pid 1234, uptime 1:05:12\n", name: "crashplan")
        #expect(long.seconds == 3912)
    }

    @Test func launchdPrint() {
        let text = """
            system/com.code42.service = {
            \tactive count = 1
            \tpath = /Library/LaunchDaemons/com.code42.service.plist
            \tstate = running

            \tprogram = /Applications/Code42.app/Contents/MacOS/Code42Service
            \tpid = 412
            \tendpoints = {
            \t\t"com.code42.service" = {
            \t\t\tport = 0x1a103
            \t\t\tactive = 1
            \t\t}
            \t}
            }
            """
        let s = ServiceParsers.launchd(text, name: "com.code42.service")
        #expect(s.running && s.pid == 412)
        #expect(
            !ServiceParsers.launchd("Could not find service \"com.crashplan.engine\" in domain for system\n", name: "x")
                .installed)
    }

    @Test func windowsSCQueryEx() {
        let text = """

            SERVICE_NAME: Code42Service
                    TYPE               : 10  WIN32_OWN_PROCESS
                    STATE              : 4  RUNNING
                                            (STOPPABLE, NOT_PAUSABLE, ACCEPTS_SHUTDOWN)
                    WIN32_EXIT_CODE    : 0  (0x0)
                    SERVICE_EXIT_CODE  : 0  (0x0)
                    CHECKPOINT         : 0x0
                    WAIT_HINT          : 0x0
                    PID                : 3320
                    FLAGS              :
            """
        let s = ServiceParsers.windowsSC(text, name: "Code42Service")
        #expect(s.running && s.pid == 3320 && s.state == "RUNNING")
        let german = ServiceParsers.windowsSC(
            "        STATUS             : 1  STOPPED\n        STATE              : 1  STOPPED\n", name: "x")
        #expect(!german.running && german.installed)
        #expect(
            !ServiceParsers.windowsSC(
                "[SC] EnumQueryServicesStatus:OpenService FAILED 1060:\n\nThe specified service does not exist as an installed service.\n",
                name: "x"
            ).installed)
    }

    @Test func restartCommandsAreExact() {
        #expect(Services.restartCommands("crashplan", .systemd) == [["systemctl", "restart", "crashplan"]])
        #expect(
            Services.restartCommands("com.code42.service", .launchd) == [
                ["launchctl", "kickstart", "-k", "system/com.code42.service"]
            ])
        #expect(
            Services.restartCommands("Code42Service", .windowsSCM)
                == [["powershell", "-NoProfile", "-Command", "Restart-Service -Name 'Code42Service' -Force"]])
        #expect(Services.restartCommands("/tmp/sv/x", .runit) == [["sv", "restart", "/tmp/sv/x"]])
    }

    @Test func runitNamesAreLookedUpAsSvDoes() {
        let svdir = ["SVDIR": "/srv/runit/"]
        #expect(
            Services.restartCommands("backupd", .runit, environment: svdir) == [
                ["sv", "restart", "/srv/runit/backupd"]
            ])
        #expect(
            Services.statusCommand("backupd", .runit, environment: ["SVDIR": "/srv/runit"]) == [
                "sv", "status", "/srv/runit/backupd",
            ])
        // A relative SVDIR is relative to here; sv would look for "svdir/backupd" in SVDIR again.
        #expect(Services.runitDirectory("backupd", environment: ["SVDIR": "svdir"]) == "./svdir/backupd")
        // Paths are paths, with or without SVDIR (sv(8): a leading dot or slash, or a trailing slash).
        for path in ["/etc/sv/backupd", "./backupd", "../sv/backupd", "backupd/"] {
            #expect(Services.runitDirectory(path, environment: svdir) == path)
        }
        // Without SVDIR: where distributions keep services.
        #expect(
            Services.runitDirectory("no-such-service-here", environment: [:]) == "/etc/service/no-such-service-here")
    }
}

/// runit, really: runsv supervises a service whose run script listens on a port.
@Suite(
    .serialized,
    .enabled(
        if: Services.tool("runsv") != nil || ProcessInfo.processInfo.environment["CI"] != nil,
        "needs runit (always required under CI)"))
struct RunitServiceTests {
    @Test func stopDetectRestartAndThePortComesBack() throws {
        let runsv = try #require(Services.tool("runsv"), "runit is missing: run .ci/install-deps --test")
        let sv = try #require(Services.tool("sv"))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pd-sv-\(UUID().uuidString)/backupd")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let port = 40000 + Int(getpid() % 5000)
        let run = dir.appendingPathComponent("run")
        try """
        #!/bin/sh
        exec python3 -c 'import socket,time
        s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);s.bind(("127.0.0.1",\(port)));s.listen();time.sleep(600)'
        """.write(to: run, atomically: true, encoding: .utf8)
        chmod(run.path, 0o755)
        let supervisor = try ChildProcess.start([runsv, dir.path])
        defer {
            // sv kill first: `sv exit` alone ends runsv but leaves the service running.
            _ = ChildProcess.run([sv, "kill", dir.path])
            _ = ChildProcess.run([sv, "exit", dir.path])
            supervisor.kill()
            _ = supervisor.wait()
            try? FileManager.default.removeItem(at: dir.deletingLastPathComponent())
        }
        func status() -> ServiceStatus? { Services.status(dir.path, manager: .runit) }
        func until(_ what: (ServiceStatus?) -> Bool) -> ServiceStatus? {
            for _ in 0..<100 {
                let s = status()
                if what(s) { return s }
                usleep(50_000)
            }
            return status()
        }
        let up = until { $0?.running == true }
        #expect(up?.running == true && (up?.pid ?? 0) > 0)

        #expect(ChildProcess.run([sv, "down", dir.path]))
        let down = until { $0?.running == false }
        #expect(down?.installed == true && down?.running == false)
        #expect(SocketTable.list(.listening(port: UInt16(port))).isEmpty)

        let loop = EventLoop()
        var result: Services.RestartResult?
        Services.restart(dir.path, manager: .runit, port: UInt16(port), timeout: .seconds(10), on: loop) { result = $0 }
        while result == nil { loop.turn(until: nil) }
        #expect(result?.ok == true, "\(result?.detail ?? "")")
        #expect(result?.listening == true)
        #expect(result?.status?.running == true)
        #expect(result?.detail == "sv restart \(dir.path)")
    }

    /// A run script that does not exec: runsv's child (the pid `sv status` reports) is the shell, and
    /// the listener is the shell's child. The process tree ties the listener to the service.
    @Test func theListenerDescendsFromTheSupervisedPid() throws {
        let runsv = try #require(Services.tool("runsv"), "runit is missing: run .ci/install-deps --test")
        let sv = try #require(Services.tool("sv"))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pd-sv-\(UUID().uuidString)/backupd")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let port = 35000 + Int(getpid() % 5000)
        let run = dir.appendingPathComponent("run")
        try """
        #!/bin/sh
        python3 -c 'import socket,time
        s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);s.bind(("127.0.0.1",\(port)));s.listen();time.sleep(600)'
        """.write(to: run, atomically: true, encoding: .utf8)
        chmod(run.path, 0o755)
        let supervisor = try ChildProcess.start([runsv, dir.path])
        var listenerPid: Int32?
        defer {
            _ = ChildProcess.run([sv, "kill", dir.path])
            if let listenerPid { kill(listenerPid, SIGKILL) }
            _ = ChildProcess.run([sv, "exit", dir.path])
            supervisor.kill()
            _ = supervisor.wait()
            try? FileManager.default.removeItem(at: dir.deletingLastPathComponent())
        }
        var owner: SocketEntry.Owner?
        for _ in 0..<100 where owner == nil {
            owner = SocketTable.list(.listening(port: UInt16(port))).first?.owner
            if owner == nil { usleep(50_000) }
        }
        let o = try #require(owner, "the service did not listen")
        listenerPid = o.pid
        let s = try #require(Services.status(dir.path, manager: .runit))
        let main = try #require(s.pid)
        #expect(s.running)
        #expect(o.pid != main, "the listener is the shell's child, not the supervised pid")
        #expect(o.program == "python3")
        let record = try #require(ProcessTable.read(o.pid))
        #expect(record.ppid == main)
        #expect(record.ancestors.contains(main) && record.ancestors.contains(supervisor.pid), "\(record.ancestors)")
        // runsv's own record says the same pid.
        let file = try String(contentsOfFile: dir.appendingPathComponent("supervise/pid").path, encoding: .utf8)
        #expect(Int32(file.trimmingCharacters(in: .whitespacesAndNewlines)) == main)
    }

    @Test func aBareNameIsLookedUpInSVDIR() throws {
        let runsv = try #require(Services.tool("runsv"), "runit is missing: run .ci/install-deps --test")
        let sv = try #require(Services.tool("sv"))
        let svdir = FileManager.default.temporaryDirectory.appendingPathComponent("pd-svdir-\(UUID().uuidString)")
        let dir = svdir.appendingPathComponent("backupd")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let run = dir.appendingPathComponent("run")
        try "#!/bin/sh\nexec sleep 600\n".write(to: run, atomically: true, encoding: .utf8)
        chmod(run.path, 0o755)
        let supervisor = try ChildProcess.start([runsv, dir.path])
        defer {
            _ = ChildProcess.run([sv, "kill", dir.path])
            _ = ChildProcess.run([sv, "exit", dir.path])
            supervisor.kill()
            _ = supervisor.wait()
            try? FileManager.default.removeItem(at: svdir)
        }
        // Only in the call's environment: tests run in parallel, the process's own must not change.
        let environment = ["SVDIR": svdir.path]
        func status() -> ServiceStatus? { Services.status("backupd", manager: .runit, environment: environment) }
        var up = status()
        for _ in 0..<100 where up?.running != true {
            usleep(50_000)
            up = status()
        }
        #expect(up?.installed == true && up?.running == true, "\(String(describing: up))")
        #expect((up?.pid ?? 0) > 0)
        // Without SVDIR the bare name is not this service.
        #expect(Services.status("backupd", manager: .runit, environment: [:])?.pid != up?.pid)

        let loop = EventLoop()
        var result: Services.RestartResult?
        Services.restart(
            "backupd", manager: .runit, port: nil, timeout: .seconds(10), environment: environment, on: loop
        ) { result = $0 }
        while result == nil { loop.turn(until: nil) }
        #expect(result?.ok == true, "\(result?.detail ?? "")")
        #expect(result?.detail == "sv restart \(dir.path)")
        #expect(result?.status?.running == true)
    }
}
