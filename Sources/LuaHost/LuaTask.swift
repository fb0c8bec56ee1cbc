import CLua
import LuaShim
import Reactor

/// One check running as a Lua coroutine, with its own limits.
public final class LuaTask {
    public enum State: Equatable {
        case ready, running, waiting, finished
    }

    public let name: String
    public let limits: LuaLimits
    public internal(set) var state: State = .ready
    /// Set once the task has finished: its return values, or why it failed.
    public internal(set) var outcome: Result<[LuaValue], LuaError>?
    /// Called on the loop thread when the task finishes.
    public var onFinish: ((LuaTask) -> Void)?
    public let startedAt: Int64
    public internal(set) var finishedAt: Int64?
    /// Set by the engine for a repair's `apply`: only then may privileged host functions change
    /// the system (the person has consented to exactly this).
    public var mayChangeSystem = false
    /// What the task printed, line by line, when the runtime keeps it (`Options.keepPrinted`).
    public internal(set) var printed: [String] = []
    /// Lines printed past the number kept.
    public internal(set) var printedDropped = 0

    let thread: OpaquePointer
    let threadRef: Int32
    let deadline: Int64
    var instructionsLeft: Int64
    var memoryCharged: Int = 0
    var argumentCount: Int32
    /// The host call this task is suspended in (or about to be).
    public internal(set) var pending: LuaPendingCall?
    /// Pushes the results of the pending call when the task is resumed.
    var resumeWith: ((LuaStack) -> Int32)?

    init(name: String, thread: OpaquePointer, threadRef: Int32, limits: LuaLimits, argumentCount: Int32) {
        self.name = name
        self.thread = thread
        self.threadRef = threadRef
        self.limits = limits
        self.argumentCount = argumentCount
        self.startedAt = EventLoop.now()
        self.deadline = startedAt + limits.wallClockNanoseconds
        self.instructionsLeft = limits.instructions
    }

    func keep(printed text: String, atMost limit: Int) {
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if printed.count < limit { printed.append(String(line)) } else { printedDropped += 1 }
        }
    }

    /// How long the task ran (or has been running), in milliseconds.
    public var durationMilliseconds: Double {
        Double((finishedAt ?? EventLoop.now()) - startedAt) / 1_000_000
    }
}

/// A host call that suspended its check. Resume it exactly once, on the loop thread, with the
/// call's results; if the check is ended first (time limit), the cancel handlers run instead.
public final class LuaPendingCall {
    public let functionName: String
    weak var task: LuaTask?
    public unowned let runtime: LuaRuntime
    private var cancelHandlers: [() -> Void] = []
    /// Told the results when they are pushed, or nil if the check ends first (primitive hooks).
    private var observers: [([LuaValue]?) -> Void] = []
    public private(set) var isSettled = false
    /// What the check is waiting for, in words, for progress lines ("203.0.113.7:4242").
    public var waitingFor: String?
    public let startedAt = EventLoop.now()

    init(functionName: String, task: LuaTask, runtime: LuaRuntime) {
        self.functionName = functionName
        self.task = task
        self.runtime = runtime
    }

    /// The check's name, for progress messages.
    public var taskName: String? { task?.name }

    public func resume(with values: [LuaValue]) {
        resume { stack in
            for v in values { stack.push(v) }
            return Int32(values.count)
        }
    }

    /// Resumes the check; `push` pushes the results onto its stack and returns their count.
    public func resume(pushing push: @escaping (LuaStack) -> Int32) {
        guard !isSettled else { return }
        isSettled = true
        cancelHandlers = []
        guard let task, task.pending === self else { return }
        task.pending = nil
        awaitingPush = true
        // Observers are read when the results are pushed, not now: a call whose answer was at hand
        // resumes before the host function has even returned (and before a hook could observe it).
        task.resumeWith = { [self] stack in
            let n = push(stack)
            awaitingPush = false
            let observers = self.observers
            self.observers = []
            if !observers.isEmpty {
                let values = n > 0 ? (0..<n).map { runtime.readable(stack, -n + $0) } : []
                for o in observers { o(values) }
            }
            return n
        }
        runtime.makeReady(task)
    }

    /// Resumed, results not yet handed to the check.
    private var awaitingPush = false

    /// `observer` gets the results as they are handed to the check (nil if it ends first).
    func observe(_ observer: @escaping ([LuaValue]?) -> Void) {
        guard !isSettled || awaitingPush else { return }
        observers.append(observer)
    }

    /// Runs if the check ends before this call is resumed: release what the call holds.
    public func onCancel(_ handler: @escaping () -> Void) {
        if isSettled { return }
        cancelHandlers.append(handler)
    }

    func cancel() {
        guard !isSettled else { return }
        isSettled = true
        let handlers = cancelHandlers
        cancelHandlers = []
        for h in handlers { h() }
        let observers = self.observers
        self.observers = []
        for o in observers { o(nil) }
    }
}
