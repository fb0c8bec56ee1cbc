/// The service managers portdoctor speaks to.
public enum ServiceManager: String, Sendable, Encodable, CaseIterable {
    case systemd, launchd, windowsSCM = "windows-scm", openrc, runit, supervisord
    /// The person's own systemd instance (`systemctl --user`): services a desktop user set up for
    /// themself, which the system instance does not know.
    case systemdUser = "systemd-user"
}

/// What a service manager says about one service.
public struct ServiceStatus: Sendable, Encodable, Equatable {
    public var manager: ServiceManager
    public var name: String
    public var installed: Bool
    public var running: Bool
    public var pid: Int32?
    /// Seconds since it entered its current state, when the manager says.
    public var seconds: Int?
    /// Starts at boot, when the manager says.
    public var enabled: Bool?
    /// The manager's own word for the state ("active (running)", "STOPPED", "down").
    public var state: String
    /// The control group the manager keeps the service's processes in (systemd's ControlGroup):
    /// every process in it is the service's, whichever its parent.
    public var cgroup: String?
    /// `no-permission` (then `state` is too) when the manager would not tell this user: the service
    /// may run or not. `installed` is then true, since the manager did not say it is missing.
    public var access: String?
    /// The manager's own words for the refusal.
    public var accessError: String?

    /// The status the manager refused to give: "cannot tell", never "stopped".
    static func noPermission(_ m: ServiceManager, name: String, words: String) -> ServiceStatus {
        var s = ServiceStatus(manager: m, name: name, installed: true, running: false, state: Access.noPermission)
        s.access = Access.noPermission
        let lines = words.split(separator: "\n")
        let line = lines.first { Access.refused(String($0)) } ?? lines.first ?? Substring(words)
        s.accessError = String(line.trimmingWhitespace)
        return s
    }
}

/// Parsers for each manager's own output. Pure functions: the platform runs the tool.
public enum ServiceParsers {
    /// `sv status DIR`: "run: /etc/sv/x: (pid 1234) 56s; run: log: …", "down: /etc/sv/x: 3s, normally up",
    /// "fail: x: unable to change to service directory: file does not exist".
    public static func runit(_ text: String, name: String) -> ServiceStatus {
        let line = text.split(separator: "\n").first.map(String.init) ?? ""
        let main = line.split(separator: ";").first.map(String.init) ?? line
        // Without rights on supervise/ (runsv makes it 0700 root): "warning: /etc/service/x: unable
        // to open supervise/ok: access denied" — the service exists, its state is hidden.
        if main.hasPrefix("warning:") && Access.refused(main) { return .noPermission(.runit, name: name, words: main) }
        var s = ServiceStatus(
            manager: .runit, name: name, installed: !main.hasPrefix("fail:") && !main.isEmpty,
            running: main.hasPrefix("run:"), state: String(main.prefix { $0 != ":" }))
        if let open = main.firstRange(of: "(pid "), let close = main[open.upperBound...].firstIndex(of: ")") {
            s.pid = Int32(main[open.upperBound..<close])
        }
        let words = main.split(separator: " ").map { $0.filter { $0 != "," && $0 != ";" } }
        if let secs = words.first(where: { $0.hasSuffix("s") && Int($0.dropLast()) != nil }) {
            s.seconds = Int(secs.dropLast())
        }
        if main.contains("normally up") {
            s.enabled = true
        } else if main.contains("normally down") {
            s.enabled = false
        }
        return s
    }

    /// `systemctl show UNIT --property=LoadState,ActiveState,SubState,MainPID,UnitFileState,ControlGroup`.
    public static func systemd(_ text: String, name: String) -> ServiceStatus {
        systemd(text, name: name, manager: .systemd)
    }

    /// The same, from `systemctl --user show` (the person's own instance prints the same properties).
    public static func systemd(_ text: String, name: String, manager: ServiceManager) -> ServiceStatus {
        var p: [String: String] = [:]
        // "Failed to get properties: Access denied" (a polkit or D-Bus policy that refuses this user).
        if !text.contains("ActiveState="), Access.refused(text) {
            return .noPermission(manager, name: name, words: text)
        }
        for line in text.split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            p[String(line[..<eq])] = String(line[line.index(after: eq)...])
        }
        let active = p["ActiveState"] ?? "unknown"
        var s = ServiceStatus(
            manager: manager, name: name, installed: p["LoadState"] != "not-found" && p["LoadState"] != nil,
            running: active == "active",
            state: active + (p["SubState"].map { " (\($0))" } ?? ""))
        if let pid = p["MainPID"].flatMap({ Int32($0) }), pid > 0 { s.pid = pid }
        if let g = p["ControlGroup"], !g.isEmpty { s.cgroup = g }
        if let f = p["UnitFileState"], !f.isEmpty {
            s.enabled = f == "enabled" || f == "enabled-runtime" || f == "static"
        }
        return s
    }

    /// `rc-service NAME status`: " * status: started", " * status: stopped", "… does not exist".
    public static func openrc(_ text: String, name: String) -> ServiceStatus {
        let t = text.lowercased()
        let word = t.firstRange(of: "status: ").map { String(t[$0.upperBound...].prefix { $0.isLetter }) } ?? ""
        return ServiceStatus(
            manager: .openrc, name: name, installed: !t.contains("does not exist") && !word.isEmpty,
            running: word == "started", state: word.isEmpty ? "unknown" : word)
    }

    /// `supervisorctl status NAME`: "name   RUNNING   pid 1234, uptime 0:05:12", "name   STOPPED   Not started",
    /// "name: ERROR (no such process)".
    public static func supervisord(_ text: String, name: String) -> ServiceStatus {
        // A socket this user may not open: "error: <class 'PermissionError'>, [Errno 13] Permission
        // denied: file: …/xmlrpc.py line: 557"; a config file it may not read: "Error: could not read
        // config file /etc/supervisor/supervisord.conf".
        if Access.refused(text) || text.contains("could not read config file") {
            return .noPermission(.supervisord, name: name, words: text)
        }
        let line = text.split(separator: "\n").first { $0.hasPrefix(name) }.map(String.init) ?? ""
        let f = line.split(separator: " ", omittingEmptySubsequences: true)
        let state = f.count >= 2 ? String(f[1]) : "unknown"
        var s = ServiceStatus(
            manager: .supervisord, name: name, installed: !line.isEmpty && !line.contains("no such process"),
            running: state == "RUNNING", state: line.contains("no such process") ? "not found" : state)
        if let i = f.firstIndex(of: "pid"), i + 1 < f.count { s.pid = Int32(f[i + 1].filter(\.isNumber)) }
        if let i = f.firstIndex(of: "uptime"), i + 1 < f.count {
            let parts = f[i + 1].split(separator: ":").compactMap { Int($0) }
            if parts.count == 3 { s.seconds = parts[0] * 3600 + parts[1] * 60 + parts[2] }
        }
        return s
    }

    /// The config file a running supervisord was started with: `-c FILE`, `-cFILE`, `--configuration FILE`
    /// or `--configuration=FILE` after the word naming supervisord (it runs under python, so argv[0] is
    /// often the interpreter). nil when it was started without one (supervisorctl then finds the same
    /// default file itself).
    public static func supervisordConfig(arguments: [String]) -> String? {
        guard let start = arguments.firstIndex(where: { $0.split(separator: "/").last == "supervisord" }) else {
            return nil
        }
        var i = arguments.index(after: start)
        while i < arguments.endIndex {
            let a = arguments[i]
            if a == "-c" || a == "--configuration" {
                return i + 1 < arguments.endIndex ? arguments[i + 1] : nil
            }
            if a.hasPrefix("--configuration=") { return String(a.dropFirst("--configuration=".count)) }
            if a.hasPrefix("-c") && !a.hasPrefix("--") { return String(a.dropFirst(2)) }
            i += 1
        }
        return nil
    }

    /// `launchctl print system/LABEL`: a block with "state = running" and "pid = 1234";
    /// "Could not find service …" when it is not loaded.
    public static func launchd(_ text: String, name: String) -> ServiceStatus {
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let key = parts[0].trimmingWhitespace, value = parts[1].trimmingWhitespace
            if values[String(key)] == nil { values[String(key)] = String(value) }  // the first (outermost) wins
        }
        let state = values["state"] ?? (text.contains("Could not find service") ? "not loaded" : "unknown")
        var s = ServiceStatus(
            manager: .launchd, name: name, installed: !text.contains("Could not find service") && !text.isEmpty,
            running: state == "running", state: state)
        s.pid = values["pid"].flatMap { Int32($0) }
        return s
    }

    /// `sc queryex NAME`: "STATE : 4  RUNNING" (the number is the same in every language), "PID : 1234",
    /// "FAILED 1060" when the service does not exist.
    public static func windowsSC(_ text: String, name: String) -> ServiceStatus {
        var code: Int?
        var pid: Int32?
        var word = ""
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let key = parts[0].trimmingWhitespace
            let value = parts[1].split(separator: " ", omittingEmptySubsequences: true)
            if key == "STATE", let n = value.first.flatMap({ Int($0) }) {
                code = n
                word = value.dropFirst().first.map(String.init) ?? ""
            }
            if key == "PID", let n = value.first.flatMap({ Int32($0) }), n > 0 { pid = n }
        }
        var s = ServiceStatus(
            manager: .windowsSCM, name: name, installed: code != nil && !text.contains("1060"),
            running: code == 4, state: word.isEmpty ? "not installed" : word)
        s.pid = pid
        return s
    }
}
