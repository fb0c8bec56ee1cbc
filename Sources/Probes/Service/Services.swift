import Reactor

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Status and restart of a named service, with whichever manager runs this computer's services.
public enum Services {
    /// The path of a system tool, looked for where distributions put them.
    public static func tool(_ name: String) -> String? {
        ["/usr/bin/", "/bin/", "/usr/sbin/", "/sbin/", "/usr/local/bin/"].map { $0 + name }.first {
            access($0, X_OK) == 0
        }
    }

    /// The managers present here, most likely first.
    public static func detect() -> [ServiceManager] {
        #if os(macOS)
            return [.launchd]
        #elseif os(Windows)
            return [.windowsSCM]
        #else
            var found: [ServiceManager] = []
            if access("/run/systemd/system", F_OK) == 0, tool("systemctl") != nil {
                found.append(.systemd)
                // The person's own systemd runs where their session put its runtime folder; under
                // sudo that variable is gone, and root's own user services are no one's concern.
                if !Access.privileged, let dir = variable("XDG_RUNTIME_DIR", in: nil),
                    access(dir + "/systemd", F_OK) == 0
                {
                    found.append(.systemdUser)
                }
            }
            if tool("rc-service") != nil { found.append(.openrc) }
            if tool("sv") != nil { found.append(.runit) }
            if tool("supervisorctl") != nil { found.append(.supervisord) }
            return found
        #endif
    }

    /// The environment a lookup honours: this process's, unless a caller (a test) gives its own.
    public typealias Environment = [String: String]

    static func variable(_ name: String, in environment: Environment?) -> String? {
        if let environment { return environment[name] }
        return getenv(name).map { String(cString: $0) }
    }

    /// The service directory `sv` would use for `name` (runit's sv(8)): a name that starts with
    /// "." or "/" or ends with "/" is a path; any other is in $SVDIR. Without SVDIR, the services
    /// directory differs by distribution (/service upstream, /etc/service on Debian, /var/service
    /// on Void), so the name is looked for in each. The result is always a path sv takes as one.
    static func runitDirectory(_ name: String, environment: Environment? = nil) -> String {
        if name.hasPrefix("/") || name.hasPrefix(".") || name.hasSuffix("/") { return name }
        if let dir = variable("SVDIR", in: environment), !dir.isEmpty {
            let path = dir.hasSuffix("/") ? dir + name : dir + "/" + name
            // sv would look for a relative path in SVDIR again: "./" makes it relative to here.
            return path.hasPrefix("/") || path.hasPrefix(".") ? path : "./" + path
        }
        let dirs = ["/etc/service", "/var/service", "/service", "/etc/sv"]
        return dirs.map { "\($0)/\(name)" }.first { access($0, F_OK) == 0 } ?? "/etc/service/\(name)"
    }

    static let systemdProperties = "--property=LoadState,ActiveState,SubState,MainPID,UnitFileState,ControlGroup"

    /// `config`: the manager's own config file where it has one a person may move (supervisord's,
    /// given to supervisorctl as `-c FILE`).
    public static func statusCommand(
        _ name: String, _ m: ServiceManager, environment: Environment? = nil, config: String? = nil
    ) -> [String] {
        switch m {
        case .systemd: ["systemctl", "show", name, systemdProperties]
        case .systemdUser: ["systemctl", "--user", "show", name, systemdProperties]
        case .launchd: ["launchctl", "print", "system/\(name)"]
        case .windowsSCM: ["sc", "queryex", name]
        case .openrc: ["rc-service", name, "status"]
        case .runit: ["sv", "status", runitDirectory(name, environment: environment)]
        case .supervisord: ["supervisorctl"] + (config.map { ["-c", $0] } ?? []) + ["status", name]
        }
    }

    /// The config file of the supervisord running here, from its command line (any user may read
    /// it): supervisorctl must be given the same file, or it asks the default socket of a
    /// supervisord that does not exist.
    public static func runningSupervisordConfig(procRoot: String = "/proc") -> String? {
        guard let dir = opendir(procRoot) else { return nil }
        defer { closedir(dir) }
        while let dirent = readdir(dir) {
            let name = withUnsafeBytes(of: dirent.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard Int32(name) != nil,
                let text = SocketTable.readFile("\(procRoot)/\(name)/cmdline"), text.contains("supervisord")
            else { continue }
            if let config = ServiceParsers.supervisordConfig(arguments: ProcParsers.cmdline(text)) {
                // A relative file is relative to where supervisord started.
                if config.hasPrefix("/") { return config }
                if let cwd = ProcessTable.link("\(procRoot)/\(name)/cwd") { return cwd + "/" + config }
                return config
            }
        }
        return nil
    }

    /// The exact commands a restart runs (shown as the repair's dry run).
    public static func restartCommands(
        _ name: String, _ m: ServiceManager, environment: Environment? = nil, config: String? = nil
    ) -> [[String]] {
        switch m {
        case .systemd: [["systemctl", "restart", name]]
        case .systemdUser: [["systemctl", "--user", "restart", name]]
        case .launchd: [["launchctl", "kickstart", "-k", "system/\(name)"]]
        // `sc stop` returns while the service is still stopping; Restart-Service waits for it.
        case .windowsSCM: [["powershell", "-NoProfile", "-Command", "Restart-Service -Name '\(name)' -Force"]]
        case .openrc: [["rc-service", name, "restart"]]
        case .runit: [["sv", "restart", runitDirectory(name, environment: environment)]]
        case .supervisord: [["supervisorctl"] + (config.map { ["-c", $0] } ?? []) + ["restart", name]]
        }
    }

    /// Asks the manager (the first detected that knows the service, unless one is given).
    /// With `config` nil, supervisord's is the one the running supervisord was started with.
    /// A manager that refuses this user answers `no-permission` (see `Access`): the tools say so on
    /// standard error, which is read too.
    public static func status(
        _ name: String, manager: ServiceManager? = nil, environment: Environment? = nil, config: String? = nil
    ) -> ServiceStatus? {
        let managers = manager.map { [$0] } ?? detect()
        var first: ServiceStatus?
        for m in managers {
            let file = m == .supervisord ? config ?? runningSupervisordConfig() : nil
            let argv = statusCommand(name, m, environment: environment, config: file)
            guard let path = tool(argv[0]), let text = ChildProcess.outputAndErrors([path] + argv.dropFirst())?.text
            else { continue }
            var s = parse(text, name: name, m)
            if m == .runit, s.running, s.pid == nil {
                // runsv writes its child's pid to supervise/pid, which sv may not have shown.
                let pidFile = runitDirectory(name, environment: environment) + "/supervise/pid"
                s.pid = SocketTable.readFile(pidFile).flatMap { Int32($0.filter(\.isNumber)) }
            }
            if s.installed { return s }
            first = first ?? s
        }
        return first
    }

    static func parse(_ text: String, name: String, _ m: ServiceManager) -> ServiceStatus {
        switch m {
        case .systemd: ServiceParsers.systemd(text, name: name)
        case .systemdUser: ServiceParsers.systemd(text, name: name, manager: .systemdUser)
        case .launchd: ServiceParsers.launchd(text, name: name)
        case .windowsSCM: ServiceParsers.windowsSC(text, name: name)
        case .openrc: ServiceParsers.openrc(text, name: name)
        case .runit: ServiceParsers.runit(text, name: name)
        case .supervisord: ServiceParsers.supervisord(text, name: name)
        }
    }

    public struct RestartResult: Sendable, Encodable {
        public var ok: Bool
        public var seconds: Double
        public var status: ServiceStatus?
        public var listening: Bool?
        public var detail: String
    }

    /// Restarts, then waits (polling, on the loop) until the service runs and, if asked, a socket
    /// listens on `port` — or `timeout` passes. Blocking commands run on a worker thread.
    public static func restart(
        _ name: String, manager: ServiceManager, port: UInt16?, timeout: Duration, environment: Environment? = nil,
        config: String? = nil, on loop: EventLoop, _ completion: @escaping (RestartResult) -> Void
    ) {
        let started = EventLoop.now()
        let deadline =
            started + Int64(timeout.components.seconds) * 1_000_000_000
            + timeout.components.attoseconds / 1_000_000_000
        let done = LoopCallback(completion)
        let mailbox = loop.mailbox
        let loopRef = LoopBound(value: loop)
        mailbox.expectPost()
        Thread.detach {
            var ok = true
            var detail = ""
            let file = manager == .supervisord ? config ?? runningSupervisordConfig() : nil
            for argv in restartCommands(name, manager, environment: environment, config: file) where ok {
                guard let path = tool(argv[0]) else {
                    ok = false
                    detail = "\(argv[0]) is not installed"
                    break
                }
                ok = ChildProcess.run([path] + argv.dropFirst())
                detail = (ok ? "" : "failed: ") + argv.joined(separator: " ")
            }
            let (commandOK, words) = (ok, detail)
            mailbox.post {
                guard commandOK else {
                    done.value(
                        RestartResult(
                            ok: false, seconds: seconds(since: started), status: nil, listening: nil, detail: words))
                    return
                }
                poll(
                    name, manager, port: port, deadline: deadline, started: started, detail: words,
                    environment: environment, config: config, loop: loopRef.value, done.value)
            }
        }
    }

    private static func poll(
        _ name: String, _ manager: ServiceManager, port: UInt16?, deadline: Int64, started: Int64,
        detail: String, environment: Environment?, config: String?, loop: EventLoop,
        _ completion: @escaping (RestartResult) -> Void
    ) {
        let mailbox = loop.mailbox
        let done = LoopCallback(completion)
        let loopRef = LoopBound(value: loop)
        mailbox.expectPost()
        Thread.detach {
            let s = status(name, manager: manager, environment: environment, config: config)
            let listening = port.map { !SocketTable.list(.listening(port: $0), source: .automatic).isEmpty }
            mailbox.post {
                let up = s?.running == true && (listening ?? true)
                if up || EventLoop.now() >= deadline {
                    done.value(
                        RestartResult(
                            ok: up, seconds: seconds(since: started), status: s, listening: listening,
                            detail: up ? detail : "\(detail); not back within the timeout"))
                } else {
                    let loop = loopRef.value
                    loop.schedule(after: .milliseconds(200)) {
                        poll(
                            name, manager, port: port, deadline: deadline, started: started, detail: detail,
                            environment: environment, config: config, loop: loop, done.value)
                    }
                }
            }
        }
    }

    static func seconds(since start: Int64) -> Double { Double(EventLoop.now() - start) / 1e9 }
}

/// A loop-thread closure carried through a worker thread and back (run only by the loop's mailbox).
struct LoopCallback<T>: @unchecked Sendable {
    let value: (T) -> Void
    init(_ value: @escaping (T) -> Void) { self.value = value }
}

/// A detached POSIX thread for blocking work (Dispatch would do too; this keeps Probes free of it).
enum Thread {
    static func detach(_ body: @escaping @Sendable () -> Void) {
        final class Box: @unchecked Sendable {
            let body: @Sendable () -> Void; init(_ b: @escaping @Sendable () -> Void) { body = b }
        }
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        var thread = pthread_t()
        pthread_create(
            &thread, nil,
            { raw in
                let b = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
                b.body()
                return nil
            }, box)
        pthread_detach(thread)
    }
}
