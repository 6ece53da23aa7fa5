import AMQP
import Base
import Events
import Jobs
import Testing

@testable import Webhook

@Suite struct ConfigurationTests {
    @Test func defaultsOfSpec2() throws {
        let config = try WebhookConfiguration.load(Environment([:]))
        #expect(config.isDevMode)
        #expect(config.webhookPath == "/webhooks/github")
        #expect(config.maxBodyBytes == 26_214_400)
        #expect(config.amqp == AMQPSettings())
        #expect(config.amqp.url == "amqp://127.0.0.1:5672/%2f")
        #expect(config.amqp.deadLetterQueue == "solstice.jobs.v1.dlq")
        #expect(config.workers >= 2)
        #expect(config.repoAllowlist == nil && config.branchAllowlist == nil)
    }

    @Test func secretFallbackAndFileRotation() throws {
        #expect(try WebhookConfiguration.load(Environment(["WEBHOOK_SECRET": "a"])).webhookSecrets == ["a"])
        #expect(
            try WebhookConfiguration.load(Environment(["WEBHOOK_SECRET": "a", "GITHUB_WEBHOOK_SECRET": "b"]))
                .webhookSecrets
                == ["b"])
        let fromFile = try WebhookConfiguration.load(
            Environment(
                ["GITHUB_WEBHOOK_SECRET_FILE": "/run/secrets/hook", "GITHUB_WEBHOOK_SECRET": "ignored"],
                readFile: { _ in "new-secret\n\n  old-secret  \r\n" }))
        #expect(fromFile.webhookSecrets == ["new-secret", "old-secret"])
    }

    @Test func flagsOverrideTheEnvironment() throws {
        let config = try WebhookConfiguration.load(
            Environment(["FCGI_LISTEN": "/a.sock", "FCGI_WORKERS": "3"], overrides: ["FCGI_LISTEN": "127.0.0.1:9000"]))
        #expect(config.listen == "127.0.0.1:9000")
        #expect(config.workers == 3)
    }

    @Test func listsAndMaps() throws {
        let config = try WebhookConfiguration.load(
            Environment([
                "REPO_ALLOWLIST": "org/*, other/repo", "BRANCH_ALLOWLIST": "main,release/*",
                "RUNS_ON_MAP": "Org/Repo=ubuntu-24.04, org/b=omnios", "RUNS_ON_DEFAULT": "linux",
                "LOG_LEVEL": "DEBUG", "LOG_FORMAT": "json",
            ]))
        #expect(config.repoAllowlist == ["org/*", "other/repo"])
        #expect(config.branchAllowlist == ["main", "release/*"])
        #expect(config.runsOnMap == ["org/repo": "ubuntu-24.04", "org/b": "omnios"])
        #expect(config.runsOnDefault == "linux")
        #expect(config.log.level == .debug && config.log.format == .json)
    }

    @Test(arguments: [
        ("FCGI_WORKERS", "zero"), ("FCGI_WORKERS", "0"), ("MAX_BODY_BYTES", "-1"), ("MAX_BODY_BYTES", "1MB"),
        ("WEBHOOK_PATH", "webhooks"), ("AMQP_URL", "http://x"), ("AMQP_URL", "amqp://host:99999/"),
        ("RUNS_ON_MAP", "justarepo"), ("RUNS_ON_MAP", "org/repo="), ("LOG_LEVEL", "loud"), ("LOG_FORMAT", "xml"),
        ("AMQP_QUEUE", String(repeating: "q", count: 256)),
    ])
    func badValueNamesTheVariable(variable: String, value: String) {
        #expect(throws: ConfigurationError.self) { try WebhookConfiguration.load(Environment([variable: value])) }
        do {
            _ = try WebhookConfiguration.load(Environment([variable: value]))
        } catch {
            #expect(error.variable == variable)
            #expect(error.description.contains(variable))
            #expect(!error.description.contains("\n"))
        }
    }

    @Test func unreadableOrEmptySecretFileStopsTheStart() {
        struct Missing: Error {}
        #expect(throws: ConfigurationError.self) {
            try WebhookConfiguration.load(
                Environment(["GITHUB_WEBHOOK_SECRET_FILE": "/nope"], readFile: { _ in throw Missing() }))
        }
        #expect(throws: ConfigurationError.self) {
            try WebhookConfiguration.load(
                Environment(["GITHUB_WEBHOOK_SECRET_FILE": "/empty"], readFile: { _ in "\n \n" }))
        }
    }

    @Test(arguments: [
        ("amqp://127.0.0.1:5672/%2f", "127.0.0.1", 5672, "/", "guest", "guest"),
        ("amqp://u:p%40ss@broker/ci", "broker", 5672, "ci", "u", "p@ss"),
        ("amqp://broker:5673", "broker", 5673, "/", "guest", "guest"),
        ("amqp://[::1]:5672/", "::1", 5672, "/", "guest", "guest"),
    ])
    func amqpURLs(url: String, host: String, port: Int, vhost: String, user: String, password: String) throws {
        let a = try AMQPAddress(url: url)
        #expect(a.host == host && a.port == port && a.vhost == vhost && a.user == user && a.password == password)
    }
}
