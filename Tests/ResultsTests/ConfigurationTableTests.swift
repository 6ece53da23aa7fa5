import Base
import TestSupport
import Testing

@testable import Results

/// solstice-results' table of variables (`ResultsConfiguration.variables`) against README.md and its defaults.
@Suite struct ResultsConfigurationTableTests {
    @Test func readmeTableMatchesTheCode() throws {
        let differences = try ReadmeVariables.differences(
            marker: "solstice-results", variables: ResultsConfiguration.variables)
        #expect(differences == [])
    }

    @Test func defaultsInTheTableAreTheDefaultsInForce() throws {
        let config = try ResultsConfiguration.load(Environment([:]))
        let table = Dictionary(uniqueKeysWithValues: ResultsConfiguration.variables.map { ($0.name, $0.defaultValue) })
        #expect(table["RESULTS_WORKERS"] == String(config.workers))
        #expect(table["TMPDIR"] == config.temporaryDirectory)
        #expect(table["AMQP_RESULTS_QUEUE"] == config.amqp.resultsQueue)
        #expect(table["S3_REGION"] == "us-east-1")
    }
}
