import LuaHost
import Probes

/// What each primitive observed, as JSON for `portdoctor probe … --format json`: built by the same
/// conversion that gives checks their Lua tables, so the shell, the checks and a report's evidence
/// see one schema per observation (snake_case keys; a key is absent when there is nothing to say).
public enum Observation {
    public static func json(_ r: ConnectResult) -> JSONValue { JSONValue(Convert.table(r)) }
    public static func json(_ r: BindProbe.Result) -> JSONValue { JSONValue(Convert.table(r)) }
    public static func json(_ entries: [SocketEntry]) -> JSONValue {
        .array(entries.map { JSONValue(Convert.table($0)) })
    }
    public static func json(_ v: FirewallVerdict, family: FirewallQuestion.Family) -> JSONValue {
        JSONValue(FirewallModule.table(v, family: family))
    }
    public static func json(_ s: ServiceStatus) -> JSONValue { JSONValue(ServiceModule.table(s)) }
    public static func json(_ o: ReflectorClient.Outcome) -> JSONValue { JSONValue(PortForwardModule.table(o)) }
    public static func json(_ r: NATSurvey.Result) -> JSONValue { JSONValue(lua(r)) }
    /// The survey's evidence as `portforward.survey` gives it, for the NAT rules (`NATRules`).
    public static func lua(_ r: NATSurvey.Result) -> LuaValue { PortForwardModule.survey(r) }
    public static func json(_ a: NATPMP.Answer) -> JSONValue { JSONValue(RouterModules.table(a)) }
    public static func json(_ a: PCP.Answer) -> JSONValue { JSONValue(PCPModule.table(a)) }
    public static func json(_ all: [HostAddress]) -> JSONValue { .array(all.map { JSONValue(HostModule.table($0)) }) }
    public static func json(_ f: UPnP.FirewallStatus) -> JSONValue { JSONValue(PinholeFunctions.table(f)) }
    public static func json(_ g: UPnP.Gateway) -> JSONValue { JSONValue(RouterModules.table(g)) }
    public static func json(_ m: UPnP.Mapping) -> JSONValue { JSONValue(RouterModules.table(m)) }
    public static func json(_ a: SocketAddress?) -> JSONValue { JSONValue(Convert.address(a)) }

    /// STUN has no Lua module of its own (checks get its answer inside `portforward.survey`).
    public static func json(_ a: STUN.Answer) -> JSONValue {
        var t = LuaTable()
        t["status"] = .text(a.status)
        t["server"] = .text(a.server)
        t["mapped"] = Convert.address(a.mapped)
        return JSONValue(.table(t))
    }
}
