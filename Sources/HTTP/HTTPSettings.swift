import Base

#if canImport(Glibc)
    import Glibc
#endif

/// What every outbound HTTPS call of both daemons shares (GitHub, S3, the log service).
public struct HTTPSettings: Sendable, Equatable {
    /// `CA_BUNDLE` [the system store]: a PEM file of the CAs to trust, e.g. GitHub Enterprise Server's private CA.
    public var caBundle: String?

    /// The system's CA store.
    public init() {}

    /// The variables of this part.
    public static let variables = [
        ConfigVariable("CA_BUNDLE", nil, "PEM file of trusted CAs for every outbound HTTPS call; unset: the system's")
    ]

    /// Reads `CA_BUNDLE`, which must name a readable file.
    public static func load(_ env: Environment) throws(ConfigurationError) -> HTTPSettings {
        var settings = HTTPSettings()
        if let path = env.value("CA_BUNDLE") {
            guard access(path, R_OK) == 0 else {
                throw ConfigurationError(variable: "CA_BUNDLE", message: "cannot read \(path)")
            }
            settings.caBundle = path
        }
        return settings
    }
}
