import Base
import Foundation
import TestSupport
import Testing

@testable import Events

/// The payload slices and `EventMapper` with `JSONTapeDecoder` against Foundation's `JSONDecoder`, which it replaced:
/// the same slices and the same answers (outcome or 400 message) for every JSON text, and "payload is not valid JSON"
/// for texts that are not JSON by RFC 8259, some of which Foundation let through.
@Suite struct PayloadDecodingTests {
    static let payloads: [String] = {
        ((try? FileManager.default.contentsOfDirectory(atPath: TestPaths.payloads)) ?? [])
            .filter { $0.hasSuffix(".json") }.sorted()
    }()

    /// The event a sample is of: the file name up to its first dot (`pull_request.opened.json`).
    static func event(of file: String) -> String { String(file.prefix { $0 != "." }) }

    static let events = ["ping", "push", "pull_request", "check_suite", "check_run", "issue_comment", "issues"]

    /// What `EventMapper` answers with `decoder`.
    static func map(_ event: String, _ text: [UInt8], _ decoder: PayloadDecoder) -> Result<EventOutcome, PayloadError> {
        Result { () throws(PayloadError) in try EventMapper.map(event: event, payload: text, decoder: decoder) }
    }

    /// Decodes `text` as a `T` with both decoders and checks the outcomes are equal.
    @discardableResult
    static func alike<T: Decodable & Equatable>(_: T.Type, _ text: [UInt8], _ note: String = "") -> DecodeOutcome<T> {
        let tape = DecodeOutcome<T>.tape(text)
        #expect(tape == DecodeOutcome<T>.foundation(text), "\(T.self) \(note)")
        return tape
    }

    /// Decodes `text` as every payload slice with both decoders, checking they agree; the tape's outcomes.
    @discardableResult
    static func allSlicesAlike(_ text: [UInt8]) -> [any Equatable] {
        [
            alike(PushPayload.self, text), alike(PullRequestEventPayload.self, text),
            alike(CheckSuiteEventPayload.self, text), alike(CheckRunEventPayload.self, text),
            alike(IssueCommentEventPayload.self, text), alike(PingPayload.self, text), alike(ActionPayload.self, text),
        ]
    }

    @Test(arguments: PayloadDecodingTests.payloads)
    func everySampleDecodesToTheSameSlicesWithBothDecoders(file: String) throws {
        let text = try TestPaths.payload(file)
        for outcome in Self.allSlicesAlike(text) {
            #expect(!(outcome as! any DecodeOutcomeProtocol).isError, "\(file)")
        }
    }

    @Test(arguments: PayloadDecodingTests.payloads)
    func everySampleMapsAlikeWithBothDecoders(file: String) throws {
        let text = try TestPaths.payload(file)
        for event in Self.events {
            #expect(Self.map(event, text, .tape) == Self.map(event, text, .foundation), "\(file) as \(event)")
        }
        // And its own event is understood, not refused.
        #expect((try? Self.map(Self.event(of: file), text, .tape).get()) != nil)
    }

    /// Fields of the wrong type, null, absent or of a bad form: the same 400 message either way.
    @Test(arguments: [
        (#"{"after": 12}"#, "push"), (#"{"after": null}"#, "push"), (#"{"repository": []}"#, "push"),
        (#"{"repository": {"owner": "o"}}"#, "push"), (#"{"installation": {"id": "1"}}"#, "push"),
        (#"{"installation": {"id": 1.5}}"#, "push"), (#"{"installation": {"id": 1e2}}"#, "push"),
        (#"{"deleted": "yes"}"#, "push"), (#"{"head_commit": {"message": ["x"]}}"#, "push"),
        (#"{"action": "opened", "pull_request": {"labels": [{"name": 1}]}}"#, "pull_request"),
        (#"{"action": "opened", "pull_request": {"labels": {}}}"#, "pull_request"),
        (#"{"action": "opened", "pull_request": {"head": {"repo": 1}}}"#, "pull_request"),
        (#"{"action": "opened", "pull_request": {"head": {"repo": {"id": "x"}}}}"#, "pull_request"),
        (#"{"action": "opened", "pull_request": {"draft": null, "number": -1}}"#, "pull_request"),
        (#"{"action": "rerequested", "check_suite": {"pull_requests": [{"number": 1}, null]}}"#, "check_suite"),
        (#"{"action": "rerequested", "check_run": {"app": {"id": true}}}"#, "check_run"),
        (#"{"action": "created", "issue": {"pull_request": null, "number": 3}}"#, "issue_comment"),
        (#"{"action": 5}"#, "issues"), ("[]", "push"), ("null", "push"), ("7", "ping"), (#"{"zen": 1}"#, "ping"),
    ])
    func badFieldsAreTheSame400WithBothDecoders(json: String, event: String) {
        let text = Array(json.utf8)
        let tape = Self.map(event, text, .tape)
        #expect(tape == Self.map(event, text, .foundation))
        if case .failure(let error) = tape { #expect(error.message.hasPrefix("payload")) }
    }

    /// Foundation's JSONDecoder traps on this installation id (see `JSONTapeDecoderTests`): SPEC §3's "bad input
    /// never crashes the process" held only by luck. Now it is a 400 like any number that is no Int.
    @Test func anIntegerThatCrashedTheResponderIsA400() {
        let id = "9007199254740993" + String(repeating: "0", count: 200) + "e-200"
        let text = Array(#"{"ref": "refs/heads/main", "after": "x", "installation": {"id": \#(id)}}"#.utf8)
        #expect(
            Self.map("push", text, .tape) == .failure(PayloadError(field: nil, message: "payload is not valid JSON")))
    }

    /// Seeded mutations of the samples (aimed half of the time at the fields SPEC §4 reads), through every slice and
    /// `EventMapper`: where the mutant is JSON by RFC 8259 (checked independently) both decoders must agree; where it
    /// is not, the tape answers "payload is not valid JSON" whatever Foundation made of it.
    @Test func mutatedSamplesMapAlikeOrAreRefused() throws {
        var generator = SeededGenerator(seed: 0x50_1571CE)
        var counts = (valid: 0, invalid: 0, answeredOtherwiseByFoundation: 0)
        let targets = [
            "after", "ref", "deleted", "repository", "name", "clone_url", "ssh_url", "owner", "login", "id", "action",
            "number", "pull_request", "head", "sha", "repo", "base", "labels", "draft", "user", "installation",
            "check_suite", "check_run", "head_sha", "pull_requests", "zen",
        ]
        let samples = try Self.payloads.map {
            (Self.event(of: $0), JSONMutator(try TestPaths.payload($0), targets: targets))
        }
        try #require(!samples.isEmpty)
        let notJSON = PayloadError(field: nil, message: "payload is not valid JSON")
        for iteration in 0..<3000 {
            let (event, mutator) = samples[iteration % samples.count]
            let text = mutator.mutated(using: &generator)
            let tape = Self.map(event, text, .tape)
            let foundation = Self.map(event, text, .foundation)
            if let violation = RFC8259.violation(in: text) {
                counts.invalid += 1
                #expect(tape == .failure(notJSON), "iteration \(iteration): \(violation)")
                if foundation != .failure(notJSON) { counts.answeredOtherwiseByFoundation += 1 }
            } else {
                counts.valid += 1
                #expect(tape == foundation, "iteration \(iteration)")
                if iteration % 10 == 0 { Self.allSlicesAlike(text) }
            }
        }
        #expect(counts.valid > 300 && counts.invalid > 1000 && counts.answeredOtherwiseByFoundation > 100, "\(counts)")
    }
}

/// Whether a `DecodeOutcome` of any type is an error.
protocol DecodeOutcomeProtocol {
    var isError: Bool { get }
}

extension DecodeOutcome: DecodeOutcomeProtocol {}
