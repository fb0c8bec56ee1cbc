import Foundation
import Testing

@testable import Probes

#if canImport(Glibc)
    import Glibc
#endif

/// /proc's files parsed, and real processes read: their parents, cgroup and full program name.
@Suite struct ProcessTableTests {
    @Test func statNamesWithSpacesAndParentheses() {
        let s = ProcParsers.stat("4242 (a b) c)) S 17 4242 4242 0 -1 4194560 …")
        #expect(s.comm == "a b) c)")
        #expect(s.ppid == 17)
        #expect(ProcParsers.stat("garbage").comm == nil)
    }

    @Test func cmdlineAndTheProgramsFullName() {
        let args = ProcParsers.cmdline("/opt/code42/bin/CrashPlanService\0-Xmx1g\0\0")
        #expect(args == ["/opt/code42/bin/CrashPlanService", "-Xmx1g"])
        #expect(ProcParsers.program(arguments: args, exe: nil, comm: "CrashPlanServic") == "CrashPlanService")
        // A program that rewrote its title: its first word.
        #expect(
            ProcParsers.program(arguments: ["nginx: master process /usr/sbin/nginx"], exe: nil, comm: nil) == "nginx")
        // No command line (a kernel thread, a zombie): the executable, else comm.
        #expect(ProcParsers.program(arguments: [], exe: "/usr/bin/backupd (deleted)", comm: "x") == "backupd")
        #expect(ProcParsers.program(arguments: [], exe: nil, comm: "kworker/0:1") == "kworker/0:1")
    }

    @Test func cgroupV2AndV1() {
        #expect(ProcParsers.cgroup("0::/system.slice/crashplan.service\n") == "/system.slice/crashplan.service")
        #expect(
            ProcParsers.cgroup("12:cpu,cpuacct:/x\n1:name=systemd:/system.slice/code42.service\n")
                == "/system.slice/code42.service")
        #expect(ProcParsers.cgroup("") == nil)
    }

    /// A grandchild (sh → sleep): its parent chain passes through this test process, and its
    /// cgroup is this process's own.
    @Test func aRealGrandchildsParentsAndCgroup() throws {
        let sh = try ChildProcess.start(["/bin/sh", "-c", "sleep 60 & echo $!; wait"], captureOutput: true)
        let line = sh.readLine().trimmingCharacters(in: .whitespacesAndNewlines)
        let grandchild = try #require(Int32(line), "sh printed '\(line)'")
        defer {
            kill(grandchild, SIGKILL)
            sh.kill()
            _ = sh.wait()
        }
        // Until the forked shell has exec'd sleep, the grandchild is still a copy of sh.
        var read = ProcessTable.read(grandchild)
        for _ in 0..<200 where read?.arguments.first != "sleep" {
            usleep(20_000)
            read = ProcessTable.read(grandchild)
        }
        let r = try #require(read)
        #expect(r.ppid == sh.pid)
        #expect(Array(r.ancestors.prefix(2)) == [sh.pid, getpid()], "\(r.ancestors)")
        #expect(r.ancestors.last == 1, "the chain ends at init: \(r.ancestors)")
        #expect(r.program == "sleep")
        #expect(r.arguments == ["sleep", "60"])
        let own = try #require(SocketTable.readFile("/proc/self/cgroup").flatMap(ProcParsers.cgroup))
        #expect(r.cgroup == own)
        #expect(ProcessTable.read(Int32.max) == nil, "no such process")
    }

    /// A listener whose program's name is longer than comm's 15 bytes: the socket table names it in
    /// full, and keeps comm as the kernel says it.
    @Test func aListenersOwnerIsNamedInFullBeyondCommsFifteenBytes() throws {
        let python = try #require(Services.tool("python3"), "python3 is needed")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pd-proc-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let named = dir.appendingPathComponent("CrashPlanService").path
        #expect(symlink(python, named) == 0)
        let holder = try ChildProcess.start(
            [
                named, "-c",
                "import socket,time\ns=socket.socket();s.bind(('127.0.0.1',0));s.listen();print(s.getsockname()[1],flush=True);time.sleep(60)",
            ], captureOutput: true)
        defer {
            holder.kill()
            _ = holder.wait()
        }
        let port = try #require(UInt16(holder.readLine().trimmingCharacters(in: .whitespacesAndNewlines)))
        for source in [SocketTable.Source.automatic, .proc] {
            let owner = try #require(SocketTable.list(.listening(port: port), source: source).first?.owner)
            #expect(owner.pid == holder.pid)
            #expect(owner.program == "CrashPlanService", "\(source)")
            #expect(owner.comm == "CrashPlanServic", "\(source)")
        }
    }
}
