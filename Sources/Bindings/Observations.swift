import LuaHost
import Probes

/// One schema per observation. A probe's result type says here, once, how it reads as data: the
/// table checks get from the module, the JSON `portdoctor probe … --format json` prints (JSONValue
/// converts the same value) and so the evidence a report holds when a check returns it. snake_case
/// keys; a key is absent when there is nothing to say. CLIShapeTests run the release binary and a
/// pack side by side to prove the shapes stay one.
public protocol Observation {
    /// The observation as a plain value tree (tables, text, numbers), not yet in any Lua state.
    var observed: LuaValue { get }
}

extension ConnectResult: Observation { public var observed: LuaValue { Convert.table(self) } }
extension BindProbe.Result: Observation { public var observed: LuaValue { Convert.table(self) } }
extension SocketEntry: Observation { public var observed: LuaValue { Convert.table(self) } }
extension SocketAddress: Observation { public var observed: LuaValue { Convert.address(self) } }
extension ServiceStatus: Observation { public var observed: LuaValue { ServiceModule.table(self) } }
extension ProcessRecord: Observation { public var observed: LuaValue { ProcessModule.table(self) } }
extension HostAddress: Observation { public var observed: LuaValue { HostModule.table(self) } }
extension ReflectorClient.Outcome: Observation { public var observed: LuaValue { PortForwardModule.table(self) } }
/// What the survey saw, no verdict (the NAT rules give that).
extension NATSurvey.Result: Observation { public var observed: LuaValue { PortForwardModule.survey(self) } }
extension NATPMP.Answer: Observation { public var observed: LuaValue { RouterModules.table(self) } }
extension PCP.Answer: Observation { public var observed: LuaValue { PCPModule.table(self) } }
extension UPnP.Gateway: Observation { public var observed: LuaValue { RouterModules.table(self) } }
extension UPnP.Mapping: Observation { public var observed: LuaValue { RouterModules.table(self) } }
extension UPnP.FirewallStatus: Observation { public var observed: LuaValue { PinholeFunctions.table(self) } }
extension UPnP.Pinhole: Observation { public var observed: LuaValue { PinholeFunctions.table(self) } }

/// STUN has no Lua module of its own (checks get its answer inside `portforward.survey`).
extension STUN.Answer: Observation {
    public var observed: LuaValue {
        var t = LuaTable()
        t["status"] = .text(status)
        t["server"] = .text(server)
        t["mapped"] = Convert.address(mapped)
        return .table(t)
    }
}

/// A firewall verdict with the family it is for (`firewall.check` answers for one family at a time).
public struct FirewallObservation: Observation {
    public var verdict: FirewallVerdict
    public var family: FirewallQuestion.Family
    public init(_ verdict: FirewallVerdict, family: FirewallQuestion.Family) {
        self.verdict = verdict
        self.family = family
    }
    public var observed: LuaValue { FirewallModule.table(verdict, family: family) }
}

/// A list of observations is a sequence (JSON: an array, `[]` when empty).
extension Array: Observation where Element: Observation {
    public var observed: LuaValue { .table(LuaTable(sequence: map(\.observed))) }
}

/// Nothing observed: nil in Lua, null in JSON.
extension Optional: Observation where Wrapped: Observation {
    public var observed: LuaValue { self?.observed ?? .nil }
}
