import LuaHost
import Reactor

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

public struct RunOptions {
    /// The user's limits; packs and checks may only lower them.
    public var limits: LuaLimits = .default
    /// Apply repairs (each with consent, unless `assumeYes`).
    public var fix = false
    public var assumeYes = false
    /// Asks the person whether to apply a repair; nil when nobody can be asked (then repairs are declined).
    public var confirm: ((_ step: String, _ repair: RepairDefinition) -> Bool)?
    /// Called about once a second with the checks still running, for a progress line.
    public var progress: (([RunningCheck]) -> Void)?
    /// Where `print` in checks and pack files goes, one line at a time and as soon as it is printed,
    /// prefixed with who printed it: "[check-id] text" (or "[pack/file.lua] text" while the pack loads).
    public var printed: (String) -> Void = RunOptions.standardError
    /// Also keep what each check printed in its finding (`output`), for the report.
    public var debug = false
    /// At most this many printed lines are kept per check (with `debug`).
    public static let keptLines = 1000
    /// The command line the person ran (argv), for advice that says "run the same with sudo".
    public var command: [String] = []
    /// Runs as the administrator: advice about missing rights would not help (tests say either).
    public var privileged = geteuid() == 0

    public init() {}

    /// Unbuffered, so a line is out before a check that printed it crashes or hangs.
    public static func standardError(_ line: String) {
        let bytes = Array((line + "\n").utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return }
            offset += n
        }
    }
}

/// A check that is still running, for progress lines ("waiting for 203.0.113.7:4242 … 2 s").
public struct RunningCheck: Sendable {
    public var id: String
    public var seconds: Double
    public var waitingFor: String?
}

/// Runs a plan: every check whose prerequisites are met runs at once, as a coroutine on the host's
/// loop; results come out in plan order.
public final class Runner {
    private enum State {
        case pending, running, done(Finding)
    }

    let runtime: LuaRuntime
    let plan: Plan
    let parameters: ResolvedParameters
    let options: RunOptions
    private var states: [State]
    private var startedAt: [Int: Int64] = [:]
    private var tasks: [Int: LuaTask] = [:]
    /// Each finished check's result as Lua data, for later checks' `ctx.results`.
    private var results: [String: LuaValue] = [:]
    private let aliases: [String: String]
    /// What each step's tasks (the check, its repairs, its runs after a repair) printed, with `debug`.
    private var printed: [Int: [String]] = [:]

    public init(runtime: LuaRuntime, plan: Plan, parameters: ResolvedParameters, options: RunOptions) {
        self.runtime = runtime
        self.plan = plan
        self.parameters = parameters
        self.options = options
        states = Array(repeating: .pending, count: plan.steps.count)
        aliases = Dictionary(
            plan.steps.compactMap { s in s.replaces.map { ($0, s.id) } }, uniquingKeysWith: { a, _ in a })
    }

    public func run() -> Report {
        let start = EventLoop.now()
        let began = WallClock.secondsSince1970()
        if options.progress != nil {
            progressTicker = runtime.loop.schedule(after: .seconds(1)) { [unowned self] in self.tick() }
        }
        while states.contains(where: { if case .done = $0 { false } else { true } }) {
            let started = scheduleReady()
            if tasks.isEmpty && !started {
                for i in states.indices where isPending(i) {
                    finish(i, skip(i, "could not be scheduled: its prerequisites never finished"))
                }
                break
            }
            runtime.run()
        }
        if let progressTicker { runtime.loop.cancel(progressTicker) }

        var findings = plan.diagnostics.map { d in
            Finding(
                id: "load:\(d.file)", title: "Load \(d.file)", status: .error, summary: d.description, origin: d.file,
                error: d.error)
        }
        for state in states { if case .done(let f) = state { findings.append(f) } }
        var report = Report(
            packID: plan.manifest.id, packVersion: plan.manifest.version, packTitle: plan.manifest.title,
            platform: plan.platform.rawValue, vendor: plan.vendor?["manufacturer"], parameters: parameters.texts,
            parameterSources: parameters.sources, findings: findings,
            durationMilliseconds: Double(EventLoop.now() - start) / 1e6, startedAt: began)
        report.packCauses = plan.manifest.causes
        return report
    }

    private var progressTicker: EventLoop.Token?

    private func tick() {
        let now = EventLoop.now()
        let running = tasks.keys.sorted().compactMap { i -> RunningCheck? in
            guard let since = startedAt[i] else { return nil }
            return RunningCheck(
                id: plan.steps[i].id, seconds: Double(now - since) / 1e9,
                waitingFor: tasks[i]?.pending?.waitingFor ?? tasks[i]?.pending?.functionName)
        }
        if !running.isEmpty { options.progress?(running) }
        progressTicker = runtime.loop.schedule(after: .seconds(1)) { [unowned self] in self.tick() }
    }

    // MARK: scheduling

    private func isPending(_ i: Int) -> Bool { if case .pending = states[i] { true } else { false } }
    private func finding(_ i: Int) -> Finding? { if case .done(let f) = states[i] { f } else { nil } }
    private func index(_ id: String) -> Int? { plan.index(of: aliases[id] ?? id) }

    /// Starts every step that can start; finishes at once those that need not run. True if anything changed.
    @discardableResult
    private func scheduleReady() -> Bool {
        var changed = false
        var progress = true
        while progress {
            progress = false
            for i in plan.steps.indices where isPending(i) {
                let step = plan.steps[i]
                if let d = step.diagnostic {
                    finish(
                        i,
                        Finding(
                            id: step.id, title: step.title, status: .error, summary: d.description,
                            origin: step.origin, error: d.error))
                    progress = true
                    continue
                }
                if let reason = step.skipReason {
                    finish(i, skip(i, reason))
                    progress = true
                    continue
                }
                // A step that may redirect the flow holds back everything after it until it is done.
                if plan.steps[..<i].indices.contains(where: { !plan.steps[$0].next.isEmpty && finding($0) == nil }) {
                    continue
                }
                var ready = true
                var blocked: (String, Finding)?
                for need in step.needs {
                    guard let n = index(need) else { continue }
                    guard let f = finding(n) else {
                        ready = false
                        break
                    }
                    if f.status != .pass && f.status != .warn && blocked == nil { blocked = (plan.steps[n].id, f) }
                }
                for earlier in step.after {
                    if let n = index(earlier), finding(n) == nil { ready = false }
                }
                guard ready else { continue }
                if let (need, f) = blocked {
                    let why = f.status == .skip ? "was skipped" : f.status == .error ? "could not run" : "failed"
                    finish(i, skip(i, "skipped because '\(need)' \(why)"))
                    progress = true
                    continue
                }
                start(i)
                progress = true
            }
            changed = changed || progress
        }
        return changed
    }

    private func skip(_ i: Int, _ reason: String) -> Finding {
        Finding(
            id: plan.steps[i].id, title: plan.steps[i].title, status: .skip, summary: reason,
            origin: plan.steps[i].origin)
    }

    private func context(for i: Int) -> LuaValue {
        let step = plan.steps[i]
        var ctx = LuaTable()
        ctx["params"] = parameters.table
        ctx["pack"] = ["id": .text(plan.manifest.id), "version": .text(plan.manifest.version)]
        ctx["check"] = ["id": .text(step.id), "title": .text(step.title)]
        ctx["platform"] = .text(plan.platform.rawValue)
        // Steps that could not see something without administrator rights tell the person the exact
        // command to run again with them.
        ctx["privileged"] = .boolean(options.privileged)
        ctx["command"] = .text(options.command.isEmpty ? "portdoctor" : ShellWords.join(options.command))
        if let vendor = plan.vendor {
            ctx["vendor"] = .table(
                LuaTable(fields: Dictionary(uniqueKeysWithValues: vendor.map { (.text($0.key), .text($0.value)) })))
        }
        var earlier = LuaTable(fields: Dictionary(uniqueKeysWithValues: results.map { (.text($0.key), $0.value) }))
        // A step an overlay replaced under another id is still found by the id the pack's checks know.
        for (replaced, by) in aliases where earlier[replaced] == .nil {
            if let r = results[by] { earlier[replaced] = r }
        }
        ctx["results"] = .table(earlier)
        return .table(ctx)
    }

    private func limits(for step: PlanStep) -> LuaLimits {
        let pack = plan.manifest.limits.applied(to: options.limits)
        return step.check.map { $0.limits.applied(to: pack) } ?? pack
    }

    private func start(_ i: Int) {
        let step = plan.steps[i]
        guard let check = step.check else { return }
        states[i] = .running
        startedAt[i] = EventLoop.now()
        spawn(check.run, via: check.strict, step: i, name: step.id) { [unowned self] task in
            let finding = self.finding(from: task, step: i)
            self.afterCheck(i, finding, task: task)
        }
    }

    /// Starts a check's function; through the strict-params wrapper when the loader filed one.
    private func spawn(
        _ function: LuaRef, via strict: StrictEntry?, step i: Int, name: String, extra: [LuaValue] = [],
        repair: Bool = false, _ done: @escaping (LuaTask) -> Void
    ) {
        let arguments = [context(for: i)] + extra
        let task = runtime.spawn(
            strict?.wrapper ?? function, arguments: (strict.map { [LuaValue.text($0.key)] } ?? []) + arguments,
            name: name, limits: limits(for: plan.steps[i]))
        task.mayChangeSystem = repair
        tasks[i] = task
        task.onFinish = { [unowned self] t in
            self.tasks[i] = nil
            if self.options.debug {
                self.printed[i, default: []] += t.printed
                if t.printedDropped > 0 { self.printed[i]!.append("… \(t.printedDropped) more lines not kept") }
            }
            done(t)
        }
    }

    private func finish(_ i: Int, _ finding: Finding) {
        var finding = finding
        if options.debug { finding.output = printed[i] ?? [] }
        states[i] = .done(finding)
        // The check's own result (its evidence too) when it returned one; the verdict as reported.
        var result = LuaTable()
        if case .table(let returned)? = results[plan.steps[i].id] { result = returned }
        result["status"] = .text(finding.status.rawValue)
        result["summary"] = .text(finding.summary)
        result["cause"] = finding.cause.map(LuaValue.text) ?? .nil
        results[plan.steps[i].id] = .table(result)
        // Flow: steps between this one and where it sends the run are not needed any more.
        if let next = finding.next, let target = index(next), target > i {
            for j in (i + 1)..<target where isPending(j) {
                finish(j, skip(j, "skipped: '\(plan.steps[i].id)' went on to '\(next)'"))
            }
        }
        scheduleReady()
    }

    // MARK: results

    static let resultFields = ["status", "summary", "cause", "advice", "evidence", "next", "repairs"]

    private func finding(from task: LuaTask, step i: Int) -> Finding {
        let step = plan.steps[i]
        let check = step.check!
        let duration = Double(EventLoop.now() - (startedAt[i] ?? task.startedAt)) / 1e6
        var finding = Finding(
            id: step.id, title: step.title, status: .error, summary: "",
            durationMilliseconds: duration, origin: step.origin)
        func invalid(_ message: String) -> Finding {
            var f = finding
            f.status = .error
            f.cause = nil
            f.summary = "\(check.file): check '\(check.id)': \(message)"
            return f
        }
        switch task.outcome {
        case .failure(let error)?:
            finding.error = error
            finding.summary =
                error.isLimit
                ? "the check was stopped: \(error.description)" : "the check failed: \(error.description)"
            return finding
        case .success(let values)?:
            guard case .table(let r)? = values.first, let statusText = r["status"].stringValue else {
                return invalid(
                    "run must return pass(…), warn(…), fail(…) or skip(…), got \(values.first?.typeName ?? "nothing")")
            }
            for key in r.fields.keys {
                guard let name = key.stringValue, Runner.resultFields.contains(name) else {
                    let name = key.stringValue ?? "\(key)"
                    return invalid(
                        "the result has an unknown field '\(name)'\(Suggest.hint(name, Runner.resultFields))")
                }
            }
            guard let status = CheckStatus(rawValue: statusText), status != .error else {
                return invalid("unknown status '\(statusText)'")
            }
            finding.status = status
            guard let summary = r["summary"].stringValue, !summary.isEmpty else {
                return invalid("the \(status.rawValue) result needs a summary: \(status.rawValue)(\"what was found\")")
            }
            finding.summary = summary
            switch r["cause"] {
            case .nil: break
            case .string(let c):
                let known = Array(RootCause.vocabulary.keys) + Array(plan.manifest.causes.keys)
                guard known.contains(c.description) else {
                    return invalid(
                        "'cause' '\(c)' is not a known cause\(Suggest.hint(c.description, known)); a pack can add causes in its manifest"
                    )
                }
                finding.cause = c.description
            default: return invalid("'cause' must be a string")
            }
            switch r["advice"] {
            case .nil: break
            case .string(let s): finding.advice = [s.description]
            case .table(let t) where t.fields.isEmpty && t.sequence.allSatisfy({ $0.stringValue != nil }):
                finding.advice = t.sequence.compactMap(\.stringValue)
            default: return invalid("'advice' must be a string or a list of strings (steps, in order)")
            }
            finding.evidence = JSONValue(r["evidence"])
            switch r["next"] {
            case .nil: break
            case .string(let n):
                guard check.next.contains(n.description) else {
                    return invalid(
                        "the result goes on to '\(n)', which is not in the check's 'next' list \(check.next)")
                }
                finding.next = n.description
            default: return invalid("'next' must be a check id")
            }
            switch r["repairs"] {
            case .nil: break
            case .table(let t) where t.fields.isEmpty:
                for item in t.sequence {
                    guard let id = item.stringValue, let repair = check.repairs[id] else {
                        return invalid(
                            "'repairs' names '\(item.stringValue ?? item.typeName)', which the check does not declare\(Suggest.hint(item.stringValue ?? "", Array(check.repairs.keys)))"
                        )
                    }
                    finding.repairs.append(
                        RepairReport(
                            id: id, title: repair.title, changes: repair.changes,
                            privileged: repair.privileged, outcome: .offered))
                }
            default: return invalid("'repairs' must be a list of repair ids")
            }
            results[step.id] = .table(r)
            return finding
        case nil:
            return invalid("did not finish")
        }
    }

    // MARK: repairs

    private func afterCheck(_ i: Int, _ finding: Finding, task: LuaTask) {
        guard options.fix, finding.status != .pass, !finding.repairs.isEmpty else {
            finish(i, finding)
            return
        }
        attemptRepair(i, finding, remaining: finding.repairs.map(\.id), reports: [])
    }

    /// Applies the offered repairs one by one (each with consent) until the check passes when run again.
    private func attemptRepair(_ i: Int, _ finding: Finding, remaining: [String], reports: [RepairReport]) {
        let step = plan.steps[i]
        guard let id = remaining.first, let repair = step.check?.repairs[id] else {
            var final = finding
            final.repairs = reports + finding.repairs.filter { r in !reports.contains { $0.id == r.id } }
            finish(i, final)
            return
        }
        var report =
            finding.repairs.first { $0.id == id }
            ?? RepairReport(
                id: id, title: repair.title, changes: repair.changes, privileged: repair.privileged, outcome: .offered)
        let consent = options.assumeYes || (options.confirm?(step.id, repair) ?? false)
        guard consent else {
            report.outcome = .declined
            report.detail =
                options.confirm == nil ? "not confirmed: run with --fix --yes to apply it without asking" : "declined"
            attemptRepair(i, finding, remaining: Array(remaining.dropFirst()), reports: reports + [report])
            return
        }
        spawn(repair.apply, via: repair.strict, step: i, name: "\(step.id): repair \(id)", extra: [.text(id)], repair: true) {
            [unowned self] task in
            var failure: String?
            // What the repair says it did (`return true, "note"`): the report keeps it, since only
            // the repair knows such things as how long a router keeps a forward.
            var note: String?
            switch task.outcome {
            case .failure(let e)?: failure = e.description
            case .success(let values)?:
                if values.first == .boolean(false) {
                    failure = values.dropFirst().first?.stringValue ?? "the repair reported failure"
                } else {
                    note = values.dropFirst().first?.stringValue
                }
            case nil: failure = "did not finish"
            }
            if let failure {
                report.outcome = .failed
                report.detail = failure
                self.attemptRepair(i, finding, remaining: Array(remaining.dropFirst()), reports: reports + [report])
                return
            }
            // Run the check again: only that shows whether the repair worked.
            self.spawn(step.check!.run, via: step.check!.strict, step: i, name: step.id) { [unowned self] again in
                var rerun = self.finding(from: again, step: i)
                rerun.durationMilliseconds = Double(EventLoop.now() - (self.startedAt[i] ?? again.startedAt)) / 1e6
                if rerun.status == .pass {
                    report.outcome = .fixed
                    report.detail = "the check passes now" + (note.map { "; \($0)" } ?? "")
                    rerun.repairs = reports + [report]
                    rerun.summary += " (after repair '\(id)')"
                    self.finish(i, rerun)
                } else {
                    report.outcome = .notFixed
                    report.detail =
                        "the check still reports: \(rerun.summary)" + (note.map { "; the repair: \($0)" } ?? "")
                    self.attemptRepair(i, rerun, remaining: Array(remaining.dropFirst()), reports: reports + [report])
                }
            }
        }
    }
}

/// A command line as a person would type it again in a POSIX shell: words that need it are quoted.
enum ShellWords {
    static func join(_ words: [String]) -> String {
        words.map(quote).joined(separator: " ")
    }

    static func quote(_ word: String) -> String {
        let plain = word.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_./=:,@%+".contains($0)) }
        if plain && !word.isEmpty { return word }
        // Inside single quotes nothing is special but the quote itself: close, escape it, reopen.
        return "'" + word.reduce(into: "") { $0 += $1 == "'" ? "'\\''" : String($1) } + "'"
    }
}
