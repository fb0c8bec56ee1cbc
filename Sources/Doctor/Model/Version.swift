/// portdoctor's own version: `portdoctor --version` and the JSON report's `portdoctor_version` read it.
public let portdoctorVersion = "0.1.0"
