#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What a primitive could not see for want of privilege. Every primitive uses the one word
/// `no-permission` for it (in its status field where it has one, and in `access`), with the tool's
/// or the kernel's own words in `accessError`, so that a pack never reads "could not look" as
/// "down", "allowed" or "the service's own".
public enum Access {
    /// The word: a firewall decision, a service state, and the `access` of sockets and processes.
    public static let noPermission = "no-permission"

    /// Runs as the administrator (root): everything can be read.
    public static var privileged: Bool { geteuid() == 0 }

    /// Whether a tool's words say it was refused the rights to look: nft's "Operation not permitted
    /// (you must be root)", the iptables tools' "Permission denied (you must be root)", runit's
    /// "access denied", supervisorctl's PermissionError, systemctl's "Access denied".
    public static func refused(_ text: String) -> Bool {
        let t = text.lowercased()
        return ["operation not permitted", "permission denied", "access denied", "permissionerror",
                "you must be root", "interactive authentication required"].contains { t.contains($0) }
    }
}
