import AMQP
import Base
import Crypto
import GitHub
import TestSupport
import Testing

@testable import Webhook

#if canImport(Glibc)
    import Glibc
#endif

/// `solstice-fcgi check-config` (SPEC §9): each line says what passed, or what is wrong and how to fix it.
@Suite struct ConfigCheckTests {
    static func check(_ change: (inout WebhookConfiguration) -> Void = { _ in }) -> ConfigCheck {
        var configuration = WebhookConfiguration()
        change(&configuration)
        return ConfigCheck(configuration: configuration)
    }

    // MARK: - Secret

    @Test(
        arguments: [
            ([], false, false, "set one, or SOLSTICE_DEV_MODE=1"),
            ([], true, true, "dev mode, unsigned webhooks are accepted"),
            (["s1"], false, true, "1 secret(s) loaded"),
            (["new", "old"], true, true, "2 secret(s) loaded"),
        ] as [([String], Bool, Bool, String)])
    func secret(secrets: [String], allowDevMode: Bool, ok: Bool, detail: String) {
        let result = Self.check { $0.webhookSecrets = secrets }.secret(allowDevMode: allowDevMode)
        #expect(result.name == "webhook secret")
        #expect(result.ok == ok)
        #expect(result.detail.contains(detail))
        #expect(result.line.hasPrefix(ok ? "✓ webhook secret: " : "✗ webhook secret: "))
    }

    // MARK: - Spool

    @Test func aWritableSpoolIsCreatedAndLeftClean() throws {
        let directory = TemporaryDirectory("check")
        defer { directory.remove() }
        let spool = directory.path + "/spool"
        let result = Self.check { $0.spoolDir = spool }.spool()
        #expect(result.ok)
        #expect(result.detail == "\(spool) is writable")
        // Created, and the probe file is gone again.
        #expect(Posix.list(spool).isEmpty)
        #expect(access(spool, W_OK) == 0)
    }

    @Test(arguments: ["/proc/solstice-x", "file"])
    func anUnwritableSpoolSaysHowToFixIt(path: String) {
        let directory = TemporaryDirectory("check")
        defer { directory.remove() }
        // A file where the directory should be stops even root.
        let spool = path == "file" ? directory.write("spool", "not a directory") : path
        let result = Self.check { $0.spoolDir = spool }.spool()
        #expect(!result.ok)
        #expect(result.detail.contains(spool))
        #expect(result.detail.hasSuffix("make SPOOL_DIR a writable directory owned by the service user"))
    }

    // MARK: - Variables

    @Test func aMistypedVariableIsNamedButForeignOnesAreNot() {
        let result = Self.check().variables(in: [
            "AMQP_QUEU": "jobs", "AMQP_URL": "amqp://broker/", "PATH": "/usr/bin", "HOME": "/root",
            "SPOOL_DIRECTORY": "/var/spool", "GITHUB_TOKEN": "x",
        ])
        #expect(result.ok)
        #expect(result.detail.contains("(1 set)"))
        #expect(result.detail.contains("not ours, so ignored: AMQP_QUEU, SPOOL_DIRECTORY"))
        for foreign in ["PATH", "HOME", "GITHUB_TOKEN"] { #expect(!result.detail.contains(foreign)) }
    }

    @Test func knownVariablesOnlyAreAllValid() {
        let result = Self.check().variables(in: ["AMQP_URL": "amqp://broker/", "SPOOL_DIR": "/s", "PATH": "/bin"])
        #expect(result.ok && result.detail == "every variable is valid (2 set)")
    }

    // MARK: - Web server

    @Test(arguments: [
        ("server {\n    client_max_body_size 25m;\n}", true, "client_max_body_size 26214400 bytes"),
        ("client_max_body_size 1G;", true, "client_max_body_size 1073741824 bytes"),
        ("client_max_body_size 0;", true, "client_max_body_size unlimited"),
        ("client_max_body_size 1m;", false, "client_max_body_size allows 1048576 bytes, below MAX_BODY_BYTES"),
        ("# client_max_body_size 100m;\nclient_max_body_size 1024k;", false, "allows 1048576 bytes"),
        ("FcgidMaxRequestLen 131072", false, "FcgidMaxRequestLen allows 131072 bytes"),
        ("<IfModule mod_fcgid.c>\n  FcgidMaxRequestLen 26214400\n</IfModule>", true, "FcgidMaxRequestLen 26214400"),
        ("server.max-request-size = 32768", true, "server.max-request-size 33554432 bytes"),
        ("server.max-request-size = 1024", false, "server.max-request-size allows 1048576 bytes"),
        ("location /webhooks/github {\n    fastcgi_pass unix:/run/solstice.sock;\n}", false, "sets no body limit"),
    ])
    func webServerLimit(config: String, ok: Bool, detail: String) {
        let result = Self.check().webServerLimit(configText: config, path: "/etc/web.conf")
        #expect(result.name == "web server")
        #expect(result.ok == ok)
        #expect(result.detail.hasPrefix("/etc/web.conf"))
        #expect(result.detail.contains(detail))
        #expect(result.detail.contains("MAX_BODY_BYTES (26214400)") || !ok)
    }

    // MARK: - Broker

    @Test func anUnreachableBrokerFailsWithTheFix() throws {
        let refusing = try RefusingPort()
        let result = Self.check { $0.amqp.url = "amqp://guest:guest@127.0.0.1:\(refusing.port)/" }.broker()
        #expect(result.name == "broker")
        #expect(!result.ok)
        #expect(result.detail.contains("cannot connect to 127.0.0.1:\(refusing.port)"))
        #expect(result.detail.hasSuffix("check AMQP_URL and that RabbitMQ runs and is reachable"))
    }

    @Test func aBrokerThatTakesTheTopologyPasses() throws {
        let broker = try FakeBroker()
        defer { broker.stop() }
        let result = Self.check { $0.amqp.url = broker.url }.broker()
        #expect(result.ok)
        #expect(result.detail == "connected, topology declared (solstice.jobs → solstice.jobs.v1)")
    }

    @Test(arguments: [
        (FakeBroker.Refusal.queueArguments, "PRECONDITION_FAILED", "delete it (rabbitmqctl delete_queue NAME)"),
        (.login, "ACCESS_REFUSED", "check the user, password and vhost in AMQP_URL"),
    ])
    func aRefusingBrokerGetsItsOwnFix(refusal: FakeBroker.Refusal, said: String, fix: String) throws {
        let broker = try FakeBroker(refusal: refusal)
        defer { broker.stop() }
        let result = Self.check { $0.amqp.url = broker.url }.broker()
        #expect(!result.ok)
        #expect(result.detail.contains(said))
        #expect(result.detail.contains(fix))
    }

    // MARK: - GitHub App

    /// A loopback GitHub answering `GET /app` with App `id` to a signed JWT, or 401 for `id` nil.
    static func github(appID id: Int?) throws -> LoopbackHTTPServer {
        try LoopbackHTTPServer { request in
            guard request.line == "GET /app", request.headers["authorization"]?.hasPrefix("Bearer ey") == true else {
                return .json(404, #"{"message": "Not Found"}"#)
            }
            guard let id else {
                return .json(401, #"{"message": "A JSON web token could not be decoded"}"#)
            }
            return .json(200, #"{"id": \#(id), "slug": "solstice-ci"}"#)
        }
    }

    static func githubApp(server: LoopbackHTTPServer) throws -> CheckResult {
        let key = try RSAPrivateKey(pem: TestKeys.rsaPKCS1)
        let check = Self.check {
            $0.github.app = GitHubAppCredentials(appID: "4242", key: key)
            $0.github.apiBase = server.baseURL
        }
        let client = GitHubClient(
            credentials: GitHubAppCredentials(appID: "4242", key: key), apiBase: server.baseURL,
            logger: Logger(level: .error))
        return check.githubApp(client)
    }

    @Test func theRightAppIDPasses() throws {
        let server = try Self.github(appID: 4242)
        defer { server.stop() }
        let result = try Self.githubApp(server: server)
        #expect(result.ok)
        #expect(result.detail == "App 4242 authenticated at \(server.baseURL)")
        #expect(server.lines == ["GET /app"])
    }

    @Test func aWrongAppIDNamesBothIDs() throws {
        let server = try Self.github(appID: 99)
        defer { server.stop() }
        let result = try Self.githubApp(server: server)
        #expect(!result.ok)
        #expect(result.detail.contains("belongs to App 99, not GITHUB_APP_ID=4242"))
    }

    @Test func aRefusedJWTSaysSo() throws {
        let server = try Self.github(appID: nil)
        defer { server.stop() }
        let result = try Self.githubApp(server: server)
        #expect(!result.ok)
        #expect(result.detail.contains("401"))
        #expect(result.detail.contains("GitHub refused the App JWT"))
        #expect(server.lines == ["GET /app"])
    }

    @Test func noAppIsNotAFailure() throws {
        let client = GitHubClient(
            credentials: GitHubAppCredentials(appID: "1", key: try RSAPrivateKey(pem: TestKeys.rsaPKCS1)),
            apiBase: "http://127.0.0.1:1", logger: Logger(level: .error))
        let result = Self.check().githubApp(client)
        #expect(result.ok && result.detail == "not configured")
    }
}
