import LuaHost
import Probes

/// Every module checks call (`socket`, `netstat`, `firewall`, `service`, `process`, `portforward`,
/// `upnp`, `natpmp`, `pcp`, `host`), installed into a diagnosis's runtime in one call.
public enum PrimitiveBindings {
    /// `discovery`: the run's UPnP discovery: vendor selection, the survey and checks share one answer.
    public static func install(_ runtime: LuaRuntime, discovery: UPnP.Discovery) {
        SocketModule.install(runtime)
        NetstatModule.install(runtime)
        FirewallModule.install(runtime)
        ServiceModule.install(runtime)
        ProcessModule.install(runtime)
        PortForwardModule.install(runtime, discovery: discovery)
        RouterModules.install(runtime, discovery: discovery)
        PCPModule.install(runtime)
        HostModule.install(runtime)
    }
}
