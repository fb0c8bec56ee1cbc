/// An error from Lua code, as a value: what happened, where, and (on request) how it got there.
public struct LuaError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// The chunk does not compile.
        case syntax
        /// The code raised an error.
        case runtime
        case instructionLimit = "instruction-limit"
        case memoryLimit = "memory-limit"
        case timeLimit = "time-limit"
        /// Never raised by Lua: a definition file that runs but defines something wrong (a missing
        /// field, an unknown step), as the pack loader reports it.
        case load
    }

    public var kind: Kind
    /// The message as Lua produced it (runtime errors usually start with "chunk:line:").
    public var message: String
    /// The chunk and line of the innermost Lua frame, when there is one.
    public var chunk: String?
    public var line: Int?
    /// A Lua traceback, for when the user asks for it.
    public var traceback: String?

    public init(kind: Kind, message: String, chunk: String? = nil, line: Int? = nil, traceback: String? = nil) {
        self.kind = kind
        self.message = message
        self.chunk = chunk
        self.line = line
        self.traceback = traceback
    }

    public var isLimit: Bool { kind == .instructionLimit || kind == .memoryLimit || kind == .timeLimit }

    /// "chunk:line: message", position added when the message lacks it.
    public var description: String {
        if let chunk, let line, !message.hasPrefix("\(chunk):") { return "\(chunk):\(line): \(message)" }
        return message
    }

    /// The description followed by the traceback.
    public var detailedDescription: String {
        guard let traceback else { return description }
        return description + "\n" + traceback
    }
}
