import Base
import TestSupport
import Testing

@testable import Webhook

/// The one table of variables (`WebhookConfiguration.variables`): README, `--help` and `check-config` agree with it.
@Suite struct ConfigurationTableTests {
    @Test func readmeTableMatchesTheCode() throws {
        let differences = try ReadmeVariables.differences(
            marker: "solstice-fcgi", variables: WebhookConfiguration.variables)
        #expect(differences == [])
    }

    @Test func everyVariableAppearsOnceInTheHelpWithItsDefault() {
        let help = ConfigVariable.helpText(WebhookConfiguration.variables)
        for v in WebhookConfiguration.variables {
            let lines = help.split(separator: "\n").filter { $0.hasPrefix("  \(v.name) ") || $0 == "  \(v.name)" }
            #expect(lines.count == 1, "\(v.name)")
            if let d = v.defaultValue { #expect(lines.first?.contains("[\(d)]") == true, "\(v.name)") }
        }
        #expect(Set(WebhookConfiguration.variables.map(\.name)).count == WebhookConfiguration.variables.count)
    }

    @Test func defaultsInTheTableAreTheDefaultsInForce() throws {
        let config = try WebhookConfiguration.load(Environment([:]))
        let table = Dictionary(uniqueKeysWithValues: WebhookConfiguration.variables.map { ($0.name, $0.defaultValue) })
        #expect(table["WEBHOOK_PATH"] == config.webhookPath)
        #expect(table["MAX_BODY_BYTES"] == String(config.maxBodyBytes))
        #expect(table["SPOOL_DIR"] == config.spoolDir)
        #expect(table["AMQP_URL"] == config.amqp.url)
        #expect(table["AMQP_QUEUE"] == config.amqp.queue)
        #expect(table["AMQP_RESULTS_DLQ"] == config.amqp.resultsDeadLetterQueue)
        #expect(table["GITHUB_API_BASE"] == config.github.apiBase)
        #expect(table["GITHUB_CHECK_NAME"] == config.github.checkName)
        #expect(table["LOG_LEVEL"] == config.log.level.rawValue)
        #expect(table["LOG_FORMAT"] == config.log.format.rawValue)
    }

    @Test func checkConfigNamesLookalikeVariablesOnly() {
        let check = ConfigCheck(configuration: WebhookConfiguration())
        let result = check.variables(in: ["AMQP_QUEU": "x", "WEBHOOK_PATHS": "/x", "PATH": "/bin", "AMQP_URL": "a"])
        #expect(result.ok)
        #expect(result.detail.contains("AMQP_QUEU") && result.detail.contains("WEBHOOK_PATHS"))
        #expect(!result.detail.contains("PATH,") && !result.detail.contains(" PATH "))
        #expect(check.variables(in: ["AMQP_URL": "a", "HOME": "/root"]).detail == "every variable is valid (1 set)")
    }
}
