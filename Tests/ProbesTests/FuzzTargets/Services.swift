@testable import Probes

extension FuzzTargets {
    /// `systemctl show`, `sv status`, `rc-service status`, `supervisorctl status`, `launchctl print`,
    /// `sc queryex`: the first byte picks the format.
    static let services = FuzzTarget(name: "services") { bytes in
        guard let first = bytes.first else { return }
        let input = text(Array(bytes.dropFirst()))
        let parsers = [
            ServiceParsers.systemd, ServiceParsers.runit, ServiceParsers.openrc, ServiceParsers.supervisord,
            ServiceParsers.launchd, ServiceParsers.windowsSC,
        ]
        let status = parsers[Int(first) % parsers.count](input, "portdoctor-test")
        try require(status.name == "portdoctor-test", "the status names \(status.name), not the service asked about")
    }
}
