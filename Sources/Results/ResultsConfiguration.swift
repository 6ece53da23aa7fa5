import AMQP
import Base
import GitHub
import HTTP

/// Everything solstice-results needs, read once from the environment (SPEC §2, §8) and validated before the first
/// message.
public struct ResultsConfiguration: Sendable {
    /// The broker and topology (`AMQP_*`).
    public var amqp = AMQPSettings()
    /// The App (required here), API root, check name and log service.
    public var github = GitHubSettings()
    /// Log upload to S3-compatible storage; nil when `S3_BUCKET` is unset.
    public var s3: S3Settings?
    /// Results handled at once (`RESULTS_WORKERS`) [4], each on its own broker connection.
    public var workers = 4
    /// The most of a job log downloaded and uploaded (`LOG_MAX_BYTES`) [67108864].
    public var logMaxBytes = 67_108_864
    /// Where logs are downloaded before the upload (`TMPDIR`) [/tmp].
    public var temporaryDirectory = "/tmp"
    /// Where the metrics are written for node_exporter's textfile collector (`METRICS_TEXTFILE`), at start,
    /// every 15 s and at exit; nil: nowhere.
    public var metricsTextfile: String?
    /// `CA_BUNDLE`.
    public var http = HTTPSettings()
    /// `LOG_LEVEL`, `LOG_FORMAT`.
    public var log = LogSettings()

    /// Defaults everywhere, no App.
    public init() {}

    /// Every variable solstice-results reads, with its default: the one table behind `--help` and the README.
    public static let variables: [ConfigVariable] =
        AMQPSettings.variables + GitHubSettings.variables + S3Settings.variables + [
            ConfigVariable("RESULTS_WORKERS", "4", "results handled at once, each on its own broker connection"),
            ConfigVariable("LOG_MAX_BYTES", "67108864", "the most of a job log downloaded and uploaded"),
            ConfigVariable("TMPDIR", "/tmp", "where logs are downloaded (unlinked files) before the upload"),
            ConfigVariable("METRICS_TEXTFILE", nil, "metrics file for node_exporter's textfile collector (SPEC §11)"),
        ] + HTTPSettings.variables + LogSettings.variables

    /// Reads SPEC §2 from `environment`.
    public static func load(_ env: Environment) throws(ConfigurationError) -> ResultsConfiguration {
        var config = ResultsConfiguration()
        config.amqp = try AMQPSettings.load(env)
        config.github = try GitHubSettings.load(env)
        config.s3 = try S3Settings.load(env)
        if let n = try env.integer("RESULTS_WORKERS", in: 1...64, "expected a whole number from 1 to 64") {
            config.workers = n
        }
        if let n = try env.integer("LOG_MAX_BYTES", in: 1024...(1 << 40), "expected a number of bytes, at least 1024") {
            config.logMaxBytes = n
        }
        if let dir = env.value("TMPDIR") { config.temporaryDirectory = dir }
        if let path = env.value("METRICS_TEXTFILE") {
            guard path.hasSuffix(".prom") else {
                throw ConfigurationError(
                    variable: "METRICS_TEXTFILE", message: "must end in .prom (the textfile collector reads only those)"
                )
            }
            config.metricsTextfile = path
        }
        config.http = try HTTPSettings.load(env)
        config.log = try LogSettings.load(env)
        return config
    }
}
