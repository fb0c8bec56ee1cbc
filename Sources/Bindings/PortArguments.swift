import LuaHost
import Probes

/// Ports as the modules take them: the one rule (`PortNumber`), raised as a bad argument in its words.
extension LuaCall {
    /// Argument `index`, which must be a port: `socket.connect(host, port)`.
    func port(_ index: Int32) throws -> UInt16 {
        let p = try integer(index)
        guard let port = PortNumber.from(p) else { throw argumentError(index, PortNumber.problem("port", got: p)) }
        return port
    }

    /// The field `key` of the options table at argument `index`, when it is there: `{ port = 4242 }`.
    /// `orAny`: 0 is allowed too (any port).
    func port(_ key: String, of options: LuaTable, argument index: Int32, orAny: Bool = false) throws -> UInt16? {
        let value = options[key]
        guard value != .nil else { return nil }
        guard let p = value.intValue, let port = PortNumber.from(p, orAny: orAny) else {
            throw argumentError(index, PortNumber.problem("'\(key)'", got: value.intValue, orAny: orAny))
        }
        return port
    }
}
