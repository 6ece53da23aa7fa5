// libFuzzer entry point for the JSON reader (JSONTape, JSONTapeDecoder) against Foundation's JSONDecoder, linked
// against Base, Crypto and Events as scripts/fuzz-json.sh builds them, with Tests/TestSupport/JSONReference.swift
// (the independent RFC 8259 checker and the generic JSONValue) compiled in. For every input:
// - the tape accepts exactly the texts the independent checker calls JSON;
// - for those, a generic value (every key, string and number decoded) and EventMapper's answer for each event are
//   the same with both decoders;
// - for the others, the tape's answer is "not valid JSON" (dataCorrupted without a coding path; the 400 of that name);
// - for every input, each payload slice read directly from the tape (PayloadDecoder.direct, the responder's) and
//   EventMapper's answer for each event with it are the tape decoder's, value or 400.
// Foundation is left out where it would trap: an integer above 2^53 with an exponent and more digits than Decimal
// holds (JSONTapeDecoderTests.anIntegerThatCrashesFoundationIsAnError), so inputs with a run of over 30 digits.

import Base
import Foundation

@testable import Events

@_cdecl("LLVMFuzzerTestOneInput")
public func jsonFuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let violation = RFC8259.violation(in: bytes)
    let accepted = (try? JSONTape(validating: bytes)) != nil
    if accepted != (violation == nil) {
        fatalError("the tape \(accepted ? "accepts" : "refuses") a text the checker \(violation ?? "accepts")")
    }
    let tape = DecodeOutcome<JSONValue>.tape(bytes)
    let events = ["push", "pull_request", "check_suite", "check_run", "issue_comment", "ping", "issues"]
    func map(_ event: String, _ decoder: PayloadDecoder) -> Result<EventOutcome, PayloadError> {
        Result { () throws(PayloadError) in try EventMapper.map(event: event, payload: bytes, decoder: decoder) }
    }
    for event in events where map(event, .direct) != map(event, .tape) {
        fatalError("\(event) maps differently: direct \(map(event, .direct)), tape \(map(event, .tape))")
    }
    func sliceAlike<T: Decodable & TapeReadable & Equatable>(_: T.Type) {
        func slice(_ decoder: PayloadDecoder) -> Result<T, PayloadError> {
            Result { () throws(PayloadError) in try EventMapper.decode(T.self, bytes, decoder) }
        }
        if slice(.direct) != slice(.tape) { fatalError("\(T.self): direct \(slice(.direct)), tape \(slice(.tape))") }
    }
    sliceAlike(PushPayload.self)
    sliceAlike(PullRequestEventPayload.self)
    sliceAlike(CheckSuiteEventPayload.self)
    sliceAlike(CheckRunEventPayload.self)
    sliceAlike(IssueCommentEventPayload.self)
    sliceAlike(PingPayload.self)
    sliceAlike(ActionPayload.self)
    guard accepted else {
        if tape != .invalidJSON { fatalError("refused text decoded as \(tape)") }
        for event in events {
            let answer = map(event, .tape)
            guard answer.error?.message == "payload is not valid JSON", answer.error?.field == nil else {
                fatalError("refused text mapped as \(event): \(answer)")
            }
        }
        return 0
    }
    guard !hasLongDigitRun(bytes) else { return 0 }
    let foundation = DecodeOutcome<JSONValue>.foundation(bytes)
    if tape != foundation { fatalError("decoders differ: tape \(tape), Foundation \(foundation)") }
    for event in events where map(event, .tape) != map(event, .foundation) {
        fatalError("\(event) maps differently: tape \(map(event, .tape)), Foundation \(map(event, .foundation))")
    }
    return 0
}

extension Result {
    /// The failure, if it is one.
    var error: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}

/// Whether `bytes` has more than 30 digits in a row.
func hasLongDigitRun(_ bytes: [UInt8]) -> Bool {
    var run = 0
    for byte in bytes {
        run = byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") ? run + 1 : 0
        if run > 30 { return true }
    }
    return false
}
