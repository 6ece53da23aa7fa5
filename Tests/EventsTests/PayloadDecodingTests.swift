import Base
import Foundation
import TestSupport
import Testing

@testable import Events

/// The payload slices and `EventMapper` with `JSONTapeDecoder` against Foundation's `JSONDecoder`, which it replaced:
/// the same slices and the same answers (outcome or 400 message) for every JSON text, and "payload is not valid JSON"
/// for texts that are not JSON by RFC 8259, some of which Foundation let through. And the slices read directly from
/// the tape (`PayloadDecoder.direct`, the responder's) against `JSONTapeDecoder`: the same slice or the same
/// `PayloadError` for every text, JSON or not.
@Suite struct PayloadDecodingTests {
    static let payloads = TestPaths.payloadFiles

    /// The tests that take the samples as arguments run none without them, and pass.
    @Test func theSamplesAreThere() {
        let events = Set(Self.payloads.map(Self.event(of:)))
        #expect(Self.payloads.count >= 9, "samples in \(TestPaths.payloads): \(Self.payloads)")
        #expect(events.isSuperset(of: ["push", "pull_request", "ping"]), "\(events)")
    }

    /// The event a sample is of: the file name up to its first dot (`pull_request.opened.json`).
    static func event(of file: String) -> String { String(file.prefix { $0 != "." }) }

    static let events = ["ping", "push", "pull_request", "check_suite", "check_run", "issue_comment", "issues"]

    /// What `EventMapper` answers with `decoder`.
    static func map(_ event: String, _ text: [UInt8], _ decoder: PayloadDecoder) -> Result<EventOutcome, PayloadError> {
        Result { () throws(PayloadError) in try EventMapper.map(event: event, payload: text, decoder: decoder) }
    }

    /// Decodes `text` as a `T` with both decoders and checks the outcomes are equal; also reads it directly and checks
    /// that answer is the tape decoder's.
    @discardableResult
    static func alike<T: Decodable & TapeReadable & Equatable>(_: T.Type, _ text: [UInt8], _ note: String = "")
        -> DecodeOutcome<T>
    {
        let tape = DecodeOutcome<T>.tape(text)
        #expect(tape == DecodeOutcome<T>.foundation(text), "\(T.self) \(note)")
        directAlike(T.self, text, note)
        return tape
    }

    /// The slice `T` of `text` as `EventMapper` decodes it with `decoder`: the value or the 400.
    static func slice<T: Decodable & TapeReadable>(_: T.Type, _ text: [UInt8], _ decoder: PayloadDecoder) -> Result<
        T, PayloadError
    > {
        Result { () throws(PayloadError) in try EventMapper.decode(T.self, text, decoder) }
    }

    /// Reads `text` as a `T` directly and with `JSONTapeDecoder`, checks the answers are equal, and returns the direct
    /// one.
    @discardableResult
    static func directAlike<T: Decodable & TapeReadable & Equatable>(
        _: T.Type, _ text: [UInt8], _ note: String = "", sourceLocation: SourceLocation = #_sourceLocation
    ) -> Result<T, PayloadError> {
        let direct = slice(T.self, text, .direct)
        #expect(direct == slice(T.self, text, .tape), "\(T.self) \(note)", sourceLocation: sourceLocation)
        return direct
    }

    /// Every slice and `EventMapper` for every event, directly and with `JSONTapeDecoder`; the direct slices' errors.
    @discardableResult
    static func directAlikeEverywhere(_ text: [UInt8], _ note: String = "") -> [PayloadError?] {
        for event in events {
            #expect(map(event, text, .direct) == map(event, text, .tape), "\(note) as \(event)")
        }
        return [
            directAlike(PushPayload.self, text, note).error,
            directAlike(PullRequestEventPayload.self, text, note).error,
            directAlike(CheckSuiteEventPayload.self, text, note).error,
            directAlike(CheckRunEventPayload.self, text, note).error,
            directAlike(IssueCommentEventPayload.self, text, note).error,
            directAlike(PingPayload.self, text, note).error,
            directAlike(ActionPayload.self, text, note).error,
        ]
    }

    /// The direct answer for the slice `event` reads (checked against the tape decoder's): nil when it was read.
    static func directError(_ event: String, _ text: [UInt8], _ note: String = "") -> PayloadError? {
        switch event {
        case "push": directAlike(PushPayload.self, text, note).error
        case "pull_request": directAlike(PullRequestEventPayload.self, text, note).error
        case "check_suite": directAlike(CheckSuiteEventPayload.self, text, note).error
        case "check_run": directAlike(CheckRunEventPayload.self, text, note).error
        case "issue_comment": directAlike(IssueCommentEventPayload.self, text, note).error
        case "ping": directAlike(PingPayload.self, text, note).error
        default: directAlike(ActionPayload.self, text, note).error
        }
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

    /// Every sample, as it is and compacted, read directly: the tape decoder's slices, without an error.
    @Test(arguments: PayloadDecodingTests.payloads)
    func everySampleReadsDirectlyAsTheTapeDecodesIt(file: String) throws {
        let text = try TestPaths.payload(file)
        for form in [text, JSONText.compacted(text)] {
            #expect(Self.directAlikeEverywhere(form, file).allSatisfy { $0 == nil }, "\(file)")
        }
        #expect((try? Self.map(Self.event(of: file), text, .direct).get()) != nil)
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
        Self.directAlikeEverywhere(text, json)
    }

    /// Foundation's JSONDecoder traps on this installation id (see `JSONTapeDecoderTests`): SPEC §3's "bad input
    /// never crashes the process" held only by luck. Now it is a 400 like any number that is no Int.
    @Test func anIntegerThatCrashedTheResponderIsA400() {
        let id = "9007199254740993" + String(repeating: "0", count: 200) + "e-200"
        let text = Array(#"{"ref": "refs/heads/main", "after": "x", "installation": {"id": \#(id)}}"#.utf8)
        #expect(
            Self.map("push", text, .tape) == .failure(PayloadError(field: nil, message: "payload is not valid JSON")))
        #expect(Self.map("push", text, .direct) == Self.map("push", text, .tape))
    }

    /// Seeded mutations of the samples (aimed half of the time at the fields SPEC §4 reads), through every slice and
    /// `EventMapper`: where the mutant is JSON by RFC 8259 (checked independently) both decoders must agree; where it
    /// is not, the tape answers "payload is not valid JSON" whatever Foundation made of it. Read directly, every
    /// mutant gives the tape decoder's answers, slice by slice.
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
            #expect(Self.map(event, text, .direct) == tape, "iteration \(iteration)")
            if iteration % 3 == 0 { Self.directAlikeEverywhere(text, "iteration \(iteration)") }
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

/// The slices read directly from the tape (`PayloadDecoder.direct`) against `JSONTapeDecoder`, case by case.
extension PayloadDecodingTests {
    static let notJSON = PayloadError(field: nil, message: "payload is not valid JSON")
    static let notAnObject = PayloadError(field: nil, message: "payload is not a JSON object")
    static func wrongType(_ field: String) -> PayloadError {
        PayloadError(field: field, message: "payload field \(field) has the wrong type")
    }
    static func null(_ field: String) -> PayloadError {
        PayloadError(field: field, message: "payload field \(field) is null")
    }

    /// Each class of error for each slice: a wrong type at a nested field, an array element of the wrong type or
    /// null, a number that is no `Int`, a top level that is no object; and what is no error: null where a field is
    /// optional, duplicated keys (the first counts), escaped keys. The expected 400 is spelled out; the tape decoder's
    /// must be the same (nil: the slice is read).
    @Test(
        arguments: [
            ("push", #"{"repository": {"owner": {"login": 5}}}"#, wrongType("repository.owner.login")),
            ("push", #"{"head_commit": "m", "ref": 1}"#, wrongType("ref")),
            ("push", #"{"head_commit": "m"}"#, wrongType("head_commit")),
            ("push", #"{"deleted": 1}"#, wrongType("deleted")),
            ("push", #"{"repository": {"id": 1.5}}"#, notJSON),
            ("push", #"{"installation": {"id": 1e400}}"#, notJSON),
            ("push", #"{"installation": {"id": 9223372036854775808}}"#, notJSON),
            ("push", #"{"installation": {"id": 1.0e2}, "after": null, "deleted": null, "head_commit": null}"#, nil),
            ("push", #"{"after": "a", "after": 1}"#, nil),
            ("push", #"{"after": 1, "after": "a"}"#, wrongType("after")),
            ("push", #"{"repository": {"name": "r"}, "repository": 7}"#, nil),
            ("push", #"{"\u0061fter": 1}"#, wrongType("after")),
            ("push", #"[{"after": "a"}]"#, notAnObject),
            ("push", "null", null("")),
            ("push", "1.5", notAnObject),
            ("push", #""x""#, notAnObject),
            ("push", "{", notJSON),
            ("push", "", notJSON),
            (
                "pull_request", #"{"pull_request": {"head": {"repo": {"owner": {"login": []}}}}}"#,
                wrongType("pull_request.head.repo.owner.login")
            ),
            ("pull_request", #"{"pull_request": {"head": {"sha": 1, "repo": 1}}}"#, wrongType("pull_request.head.sha")),
            ("pull_request", #"{"pull_request": {"head": {"repo": 1}}}"#, wrongType("pull_request.head.repo")),
            ("pull_request", #"{"pull_request": {"head": {"repo": null}, "user": {"login": null}}}"#, nil),
            ("pull_request", #"{"pull_request": {"head": {"repo": null, "repo": {}}}}"#, nil),
            ("pull_request", #"{"pull_request": {"labels": [{"name": "a"}, null]}}"#, null("pull_request.labels.1")),
            (
                "pull_request", #"{"pull_request": {"labels": [{"name": "a"}, "b"]}}"#,
                wrongType("pull_request.labels.1")
            ),
            ("pull_request", #"{"pull_request": {"labels": [{"name": 1}]}}"#, wrongType("pull_request.labels.0.name")),
            ("pull_request", #"{"pull_request": {"labels": [[]]}}"#, wrongType("pull_request.labels.0")),
            ("pull_request", #"{"pull_request": {"labels": {}}}"#, wrongType("pull_request.labels")),
            ("pull_request", #"{"pull_request": {"labels": [{"name": "a"}], "labels": 1}}"#, nil),
            ("pull_request", #"{"pull_request": {"base": {"repo": {"id": 1.5}}}}"#, notJSON),
            (
                "pull_request", #"{"pull_request": {"base": {"repo": {"id": 1}, "ref": []}}}"#,
                wrongType("pull_request.base.ref")
            ),
            ("pull_request", #"{"pull_request": {"draft": 1.5}}"#, wrongType("pull_request.draft")),
            ("pull_request", #"{"number": "2"}"#, wrongType("number")),
            ("pull_request", #"{"number": 2.0}"#, nil),
            ("pull_request", #""pull_request""#, notAnObject),
            ("pull_request", "[]", notAnObject),
            (
                "check_suite", #"{"check_suite": {"pull_requests": [{"number": 1}, 2]}}"#,
                wrongType("check_suite.pull_requests.1")
            ),
            ("check_suite", #"{"check_suite": {"pull_requests": [null]}}"#, null("check_suite.pull_requests.0")),
            ("check_suite", #"{"check_suite": {"pull_requests": [{"number": 1.5}]}}"#, notJSON),
            (
                "check_suite", #"{"check_suite": {"head_sha": null, "head_branch": false}}"#,
                wrongType("check_suite.head_branch")
            ),
            ("check_suite", #"{"check_suite": {"pull_requests": {}}}"#, wrongType("check_suite.pull_requests")),
            ("check_suite", #"{"check_suite": {"head_sha": "a", "head_sha": null}}"#, nil),
            ("check_suite", "true", notAnObject),
            (
                "check_run", #"{"check_run": {"check_suite": {"pull_requests": [{"number": "1"}]}}}"#,
                wrongType("check_run.check_suite.pull_requests.0.number")
            ),
            (
                "check_run", #"{"check_run": {"app": {"id": 1e2}, "pull_requests": [{}, null]}}"#,
                null("check_run.pull_requests.1")
            ),
            (
                "check_run", #"{"requested_action": {"identifier": null}, "sender": {"login": 1}}"#,
                wrongType("sender.login")
            ),
            ("check_run", #"{"check_run": {"app": {"id": -9223372036854775809}}}"#, notJSON),
            ("check_run", #"{"check_run": {"app": []}}"#, wrongType("check_run.app")),
            ("check_run", #"{"check_run": {"name": "a", "name": 1}}"#, nil),
            ("check_run", "null", null("")),
            ("issue_comment", #"{"issue": {"pull_request": {"url": 1}}}"#, wrongType("issue.pull_request.url")),
            (
                "issue_comment",
                #"{"issue": {"pull_request": null}, "comment": {"user": {"login": null}, "body": null}}"#, nil
            ),
            ("issue_comment", #"{"issue": {"number": -1.5}}"#, notJSON),
            ("issue_comment", #"{"comment": {"user": []}}"#, wrongType("comment.user")),
            ("issue_comment", #"{"comment": {"body": "a"}, "comment": {"body": 1}}"#, nil),
            ("issue_comment", #""x""#, notAnObject),
            ("ping", #"{"zen": null}"#, nil),
            ("ping", #"{"zen": {}}"#, wrongType("zen")),
            ("ping", "[]", notAnObject),
            ("ping", #"{"zen": "a",}"#, notJSON),
            ("issues", #"{"action": ["x"]}"#, wrongType("action")),
            ("issues", #"{"action": "a", "action": 1}"#, nil),
            ("issues", "-0", notAnObject),
        ] as [(String, String, PayloadError?)])
    func eachErrorClassReadsDirectlyAsTheTapeDecodesIt(event: String, json: String, expected: PayloadError?) {
        #expect(Self.directError(event, Array(json.utf8), json) == expected, "\(json)")
        #expect(Self.map(event, Array(json.utf8), .direct) == Self.map(event, Array(json.utf8), .tape))
    }

    /// Strings with escapes and characters beyond ASCII, and the first of duplicated keys, as values.
    @Test func stringsAndDuplicatedKeysAreTheTapeDecodersValues() throws {
        let text = #"{"zen": "\u00e9\ud83d\ude00\n\"\\\/ é😀", "zen": "second", "action": "\u0041"}"#
        #expect(try Self.directAlike(PingPayload.self, Array(text.utf8)).get() == PingPayload(zen: "é😀\n\"\\/ é😀"))
        #expect(try Self.directAlike(ActionPayload.self, Array(text.utf8)).get() == ActionPayload(action: "A"))
        let fork = #"{"pull_request": {"head": {"repo": null}, "labels": [{"name": "a\tb"}, {}, {"name": null}]}}"#
        let pr = try Self.directAlike(PullRequestEventPayload.self, Array(fork.utf8)).get().pull_request
        #expect(pr?.head?.repo == .null)
        #expect(pr?.labels == [LabelPayload(name: "a\tb"), LabelPayload(), LabelPayload()])
    }

    /// Payloads made of the decoder tests' texts (valid, invalid, Foundation's leniencies, numbers at the edges, bytes
    /// that are no UTF-8) at every place a slice reads, and at the top: every slice and every event's answer directly
    /// as with the tape decoder; texts that are not JSON are "payload is not valid JSON" for every slice.
    @Test func theDecoderTestsTextsReadDirectlyAsTheTapeDecodesThem() {
        let templates = [
            "§", #"{"action": "opened", "number": §, "pull_request": {"number": 1}}"#,
            #"{"action": "opened", "pull_request": {"title": §, "labels": [{"name": "a"}, §]}}"#,
            #"{"action": "opened", "pull_request": {"head": {"sha": "s", "repo": §}, "base": {"repo": {"id": §}}}}"#,
            #"{"ref": §, "after": "x", "repository": {"owner": §}}"#,
            #"{"repository": {"id": §, "name": §}, "installation": {"id": §}}"#,
            #"{"action": "rerequested", "check_suite": {"head_sha": §, "pull_requests": [§]}}"#,
            #"{"check_run": {"app": {"id": §}, "pull_requests": [{"number": §}], "check_suite": §}, "sender": §}"#,
            #"{"action": "created", "issue": {"number": §, "pull_request": §}, "comment": {"body": §, "user": §}}"#,
            #"{"zen": §, "action": §}"#, #"{§: "k", "after": §}"#,
        ].map { $0.split(separator: "§", omittingEmptySubsequences: false).map { Array($0.utf8) } }
        func payloads(_ value: [UInt8]) -> [[UInt8]] {
            templates.map { parts in Array(parts.joined(separator: value)) }
        }
        var texts = (JSONCases.valid + JSONCases.invalid + JSONCases.lenient + JSONCases.numbers).flatMap {
            payloads(Array($0.utf8))
        }
        for sequence in JSONCases.invalidUTF8 {
            texts += payloads(Array("\"a".utf8) + sequence + Array("b\"".utf8))
        }
        // Each byte that stops the tape's eight-at-a-time string scan, at every position of a value and of a key.
        for inserted in JSONCases.stringBytes {
            for position in 0..<20 {
                var value = Array(#""abcdefghijklmnopqrstuvwxyz""#.utf8)
                value.insert(contentsOf: inserted, at: 1 + position)
                texts += payloads(value)
            }
        }
        var counts = (valid: 0, invalid: 0)
        for text in texts {
            let note = String(decoding: text, as: UTF8.self)
            let errors = Self.directAlikeEverywhere(text, note)
            if RFC8259.violation(in: text) == nil {
                counts.valid += 1
            } else {
                counts.invalid += 1
                #expect(errors.allSatisfy { $0 == Self.notJSON }, "\(note)")
            }
        }
        #expect(counts.valid > 1000 && counts.invalid > 1000, "\(counts)")
    }

    /// Hand-made payloads for what the samples lack: a comment on a pull request, a click on a run's button, a
    /// deleted fork, strings with escapes and characters beyond ASCII.
    static let seeds: [(event: String, json: String)] = [
        (
            "issue_comment",
            #"{"action": "created", "issue": {"number": 7, "pull_request": {"url": "https://api.github.com/p/7"}}, "#
                + #""comment": {"body": "LGTM\n/ok-to-test \u00e9\ud83d\ude00", "user": {"login": "octocat"}}, "#
                + #""repository": {"id": 1, "name": "r", "clone_url": "https://github.com/o/r.git", "#
                + #""ssh_url": "git@github.com:o/r.git", "owner": {"login": "o", "name": null}}, "#
                + #""installation": {"id": 42}}"#
        ),
        (
            "check_run",
            #"{"action": "requested_action", "requested_action": {"identifier": "approve"}, "#
                + #""sender": {"login": "octocat"}, "check_run": {"head_sha": "\#(String(repeating: "a", count: 40))", "#
                + #""name": "build \"x\"", "external_id": "e\u0041", "conclusion": null, "app": {"id": 5}, "#
                + #""pull_requests": [{"number": 3}], "check_suite": {"head_sha": "b", "head_branch": "main", "#
                + #""pull_requests": [{"number": 3}, {"number": 4}]}}, "repository": {"name": "r", "#
                + #""owner": {"name": "o"}, "clone_url": "https://github.com/o/r.git"}, "installation": {"id": 42}}"#
        ),
        (
            "pull_request",
            #"{"action": "opened", "number": 9, "pull_request": {"number": 9, "title": "T\u00edtulo", "#
                + #""draft": true, "html_url": "h", "user": {"login": "u"}, "author_association": "NONE", "#
                + #""head": {"sha": "\#(String(repeating: "c", count: 40))", "ref": "f", "repo": null}, "#
                + #""base": {"ref": "main", "repo": {"id": 2}}, "labels": [{"name": "ok-to-test"}, {"name": "b\/c"}]}, "#
                + #""repository": {"id": 2, "name": "r", "owner": {"login": "o"}, "clone_url": "u"}}"#
        ),
        (
            "push",
            #"{"ref": "refs/heads/f\u00e9e", "after": "\#(String(repeating: "d", count: 40))", "deleted": false, "#
                + #""head_commit": {"message": "fix \u2603\n\nbody"}, "repository": {"id": 3, "name": "r", "#
                + #""owner": {"login": "o"}, "clone_url": "u", "ssh_url": "git@github.com:o/r.git"}, "#
                + #""installation": {"id": 1}}"#
        ),
        (
            "check_suite",
            #"{"action": "rerequested", "check_suite": {"head_sha": "\#(String(repeating: "e", count: 40))", "#
                + #""head_branch": "m\u00e4in", "pull_requests": [{"number": 5}]}, "repository": {"id": 4, "#
                + #""name": "r", "clone_url": "c", "ssh_url": "s", "owner": {"login": "o", "name": "n"}}, "#
                + #""installation": {"id": 2}}"#
        ),
        ("ping", #"{"zen": "Keep it logically awesome.\u2028", "hook_id": 1}"#),
    ]

    /// Every field name a slice reads.
    static let fieldNames: Set<String> = [
        "ref", "after", "deleted", "head_commit", "message", "repository", "installation", "id", "name", "clone_url",
        "ssh_url", "owner", "login", "action", "number", "pull_request", "title", "draft", "html_url", "user",
        "author_association", "head", "base", "labels", "sha", "repo", "check_suite", "head_sha", "head_branch",
        "pull_requests", "check_run", "external_id", "conclusion", "app", "requested_action", "identifier", "sender",
        "issue", "comment", "body", "url", "zen",
    ]

    /// A value of a payload below the top level: where it is (keys; array elements by index), its bytes, and for a
    /// member its key's bytes.
    struct Site {
        var path: [String]
        var value: Range<Int>
        var key: Range<Int>?
    }

    /// The values of `tape` on a path of field names a slice reads (array elements under them too).
    static func sites(_ tape: JSONTape) -> [Site] {
        var sites: [Site] = []
        func bytes(_ index: Int) -> Range<Int> {
            let entry = tape.entries[index]
            // A string's entry leaves its quotes out.
            return entry.kind.isString ? Int(entry.start) - 1..<Int(entry.end) + 1 : Int(entry.start)..<Int(entry.end)
        }
        func walk(_ index: Int, _ path: [String]) {
            let end = Int(tape.entries[index].next)
            var child = index + 1
            var position = 0
            while child < end {
                let site: Site
                if tape.entries[index].kind == .object {
                    let key = bytes(child)
                    let name = String(decoding: tape.bytes[key.dropFirst().dropLast()], as: UTF8.self)
                    site = Site(path: path + [name], value: bytes(child + 1), key: key)
                    child += 1
                } else {
                    site = Site(path: path + [String(position)], value: bytes(child), key: nil)
                }
                if site.key == nil || fieldNames.contains(site.path.last!) {
                    sites.append(site)
                    walk(child, site.path)
                }
                child = Int(tape.entries[child].next)
                position += 1
            }
        }
        walk(0, [])
        return sites
    }

    static let replacements = [
        "null", "1.5", "1e400", "-7", "0", "2.0", #""x""#, #""\u00e9\n\ud83d\ude00""#, "true", "[]", "{}", "[null]",
        "[1]", "[{}]", #"{"id": "1", "name": 2, "login": [], "number": 1.5}"#,
    ].map { Array($0.utf8) }

    /// Every value a slice reads in every sample and seed, replaced by each kind of value, preceded and followed
    /// by a duplicate of its key, with its key escaped, and with its key renamed (absent): the slice of the
    /// payload's event read directly is the tape decoder's, value or 400.
    @Test(arguments: PayloadDecodingTests.samplesAndSeeds)
    func everyReadFieldMutatedReadsDirectlyAsTheTapeDecodesIt(sample: String) throws {
        let (event, text) = try Self.sampleOrSeed(sample)
        let sites = Self.sites(try JSONTape(validating: text))
        var counts = (read: 0, refused: 0)
        func check(_ mutant: [UInt8], _ note: @autoclosure () -> String) {
            if Self.directError(event, mutant, "\(sample) \(note())") == nil {
                counts.read += 1
            } else {
                counts.refused += 1
            }
        }
        for site in sites {
            let name = site.path.joined(separator: ".")
            for replacement in Self.replacements {
                var mutant = text
                mutant.replaceSubrange(site.value, with: replacement)
                check(mutant, "\(name) = \(String(decoding: replacement, as: UTF8.self))")
            }
            guard let key = site.key else { continue }
            let quotedKey = Array(text[key])
            for duplicate in ["null", "1", #""dup""#, "{}"].map({ Array($0.utf8) }) {
                var before = text
                before.insert(
                    contentsOf: quotedKey + Array(": ".utf8) + duplicate + Array(", ".utf8), at: key.lowerBound)
                check(before, "\(name) duplicated before")
                var after = text
                after.insert(
                    contentsOf: Array(", ".utf8) + quotedKey + Array(": ".utf8) + duplicate, at: site.value.upperBound)
                check(after, "\(name) duplicated after")
            }
            var escaped = text
            let first = quotedKey[1]
            let hex = Array("0123456789abcdef".utf8)
            escaped.replaceSubrange(
                key.lowerBound + 1..<key.lowerBound + 2,
                with: Array("\\u00".utf8) + [hex[Int(first >> 4)], hex[Int(first & 0xF)]])
            check(escaped, "\(name) with an escaped key")
            var renamed = text
            renamed.insert(UInt8(ascii: "_"), at: key.lowerBound + 1)
            check(renamed, "\(name) absent")
        }
        // Mutations that are read and mutations that are refused, in every sample.
        #expect(!sites.isEmpty && counts.read > 5 && counts.refused > 5, "\(sample): \(sites.count) sites, \(counts)")
    }

    /// Two fields spoiled at once (`[null]` is an error in any field a slice reads): the 400 names the one decoded
    /// first, so the direct reading must go through the fields in the synthesized `init(from:)`'s order.
    @Test(arguments: PayloadDecodingTests.samplesAndSeeds)
    func twoSpoiledFieldsNameTheOneTheTapeDecoderMeetsFirst(sample: String) throws {
        let (event, original) = try Self.sampleOrSeed(sample)
        let text = JSONText.compacted(original)
        let sites = Self.sites(try JSONTape(validating: text))
        let spoiled = Array("[null]".utf8)
        var refused = 0
        for (offset, one) in sites.enumerated() {
            for other in sites[(offset + 1)...] where one.value.upperBound <= other.value.lowerBound {
                var mutant = text
                mutant.replaceSubrange(other.value, with: spoiled)
                mutant.replaceSubrange(one.value, with: spoiled)
                let note = "\(sample): \(one.path.joined(separator: ".")), \(other.path.joined(separator: "."))"
                if Self.directError(event, mutant, note) != nil { refused += 1 }
            }
        }
        #expect(sites.count < 2 || refused > 0, "\(sample)")
    }

    /// The samples' file names and the seeds' (`seed 0`…).
    static let samplesAndSeeds = payloads + seeds.indices.map { "seed \($0)" }

    /// A sample's or a seed's event and text.
    static func sampleOrSeed(_ name: String) throws -> (event: String, text: [UInt8]) {
        guard name.hasPrefix("seed ") else { return (event(of: name), try TestPaths.payload(name)) }
        let seed = seeds[Int(name.dropFirst(5))!]
        return (seed.event, Array(seed.json.utf8))
    }
}

extension Result {
    /// The failure, if it is one.
    var error: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}

/// Whether a `DecodeOutcome` of any type is an error.
protocol DecodeOutcomeProtocol {
    var isError: Bool { get }
}

extension DecodeOutcome: DecodeOutcomeProtocol {}
