// Times what the responder does with a payload, EventMapper.map, with Foundation's JSONDecoder, with JSONTapeDecoder
// and with the slices read directly from the tape (PayloadDecoder.direct, the responder's), in the same run on the
// same bytes; also JSONTape's check alone. Each file is timed as it is
// (GitHub's samples are pretty-printed) and compacted (whitespace outside strings removed, as GitHub sends them).
// Build with -c release. Default files: push.with-new-branch.json and the largest pull_request*.json of
// GITHUB_PAYLOADS_DIR (default ../shared/reference/github-payloads); the event is the file name up to its first dot.
//
//   swift build -c release --product json-bench && .build/release/json-bench [-n 2000] [FILE...]
//   perf record -g .build/release/json-bench --only tape FILE   # one decoder alone, for a profile
import Base
import Events

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The file's bytes, or nil.
func readFile(_ path: String) -> [UInt8]? { (try? FileDescriptor(path: path, flags: O_RDONLY))?.readAll() }

func now() -> Double { MonotonicClock.now() }

/// Seconds per call of `body`: the best of `rounds` means over `iterations` calls (the best round is the one least
/// disturbed by the rest of the machine).
func time(iterations: Int, rounds: Int, _ body: () -> Void) -> Double {
    var best = Double.infinity
    for _ in 0..<rounds {
        let start = now()
        for _ in 0..<iterations { body() }
        best = min(best, (now() - start) / Double(iterations))
    }
    return best
}

var arguments = Array(CommandLine.arguments.dropFirst())
var iterations = 2000
if let i = arguments.firstIndex(of: "-n"), i + 1 < arguments.count, let n = Int(arguments[i + 1]) {
    iterations = max(1, n)
    arguments.removeSubrange(i...(i + 1))
}
/// `--only direct|tape|foundation`: run that decoder alone, N times per file, and print nothing else.
var only: PayloadDecoder?
if let i = arguments.firstIndex(of: "--only"), i + 1 < arguments.count {
    let decoders: [String: PayloadDecoder] = ["direct": .direct, "tape": .tape, "foundation": .foundation]
    guard let decoder = decoders[arguments[i + 1]] else {
        print("--only takes direct, tape or foundation")
        exit(2)
    }
    only = decoder
    arguments.removeSubrange(i...(i + 1))
}
if arguments.isEmpty {
    let directory = ProcessEnvironment.current()["GITHUB_PAYLOADS_DIR"] ?? "../shared/reference/github-payloads"
    let pullRequests = ["closed", "opened", "synchronize"].map { "\(directory)/pull_request.\($0).json" }
    let largest = pullRequests.max { (readFile($0)?.count ?? 0) < (readFile($1)?.count ?? 0) }!
    arguments = ["\(directory)/push.with-new-branch.json", largest]
}

for path in arguments {
    guard let original = readFile(path) else {
        print("\(path): cannot read")
        exit(1)
    }
    let event = String(path.split(separator: "/").last!.prefix { $0 != "." })
    if let only {
        for _ in 0..<iterations { _ = try? EventMapper.map(event: event, payload: original, decoder: only) }
        continue
    }
    for (form, bytes) in [("as is", original), ("compacted", JSONText.compacted(original))] {
        let foundation = try? EventMapper.map(event: event, payload: bytes, decoder: .foundation)
        let tape = try? EventMapper.map(event: event, payload: bytes, decoder: .tape)
        let direct = try? EventMapper.map(event: event, payload: bytes, decoder: .direct)
        guard let foundation, foundation == tape, tape == direct else {
            print(
                "\(path): the decoders disagree or fail: \(String(describing: foundation)) vs \(String(describing: tape))"
                    + " vs \(String(describing: direct))")
            exit(1)
        }
        var sink = 0
        // Interleaved rounds, so both decoders see the same machine.
        var foundationBest = Double.infinity
        var tapeBest = Double.infinity
        var directBest = Double.infinity
        var scanBest = Double.infinity
        for _ in 0..<5 {
            foundationBest = min(
                foundationBest,
                time(iterations: iterations, rounds: 1) {
                    if case .build = try? EventMapper.map(event: event, payload: bytes, decoder: .foundation) {
                        sink += 1
                    }
                })
            tapeBest = min(
                tapeBest,
                time(iterations: iterations, rounds: 1) {
                    if case .build = try? EventMapper.map(event: event, payload: bytes, decoder: .tape) { sink += 1 }
                })
            directBest = min(
                directBest,
                time(iterations: iterations, rounds: 1) {
                    if case .build = try? EventMapper.map(event: event, payload: bytes, decoder: .direct) { sink += 1 }
                })
            scanBest = min(
                scanBest,
                time(iterations: iterations, rounds: 1) {
                    sink &+= (try? JSONTape(validating: bytes))?.entries.count ?? 0
                })
        }
        precondition(sink != 0)
        let name = path.split(separator: "/").last!
        print(
            "\(name) (\(form), \(bytes.count) bytes, event \(event)): EventMapper.map with JSONDecoder "
                + "\(DecimalText.fixed(foundationBest * 1e6, 1)) µs, with JSONTapeDecoder \(DecimalText.fixed(tapeBest * 1e6, 1)) µs "
                + "(\(DecimalText.fixed(foundationBest / tapeBest))x faster), read directly from the tape "
                + "\(DecimalText.fixed(directBest * 1e6, 1)) µs (\(DecimalText.fixed(tapeBest / directBest))x faster than JSONTapeDecoder; "
                + "the tape's check alone \(DecimalText.fixed(scanBest * 1e6, 1)) µs, "
                + "\(DecimalText.fixed(Double(bytes.count) / scanBest / 1e9)) GB/s), best of 5 rounds of \(iterations)")
        print(
            "RESULT file=\(name) form=\(form == "as is" ? "as-is" : form) bytes=\(bytes.count) "
                + "foundation_us=\(foundationBest * 1e6) tape_us=\(tapeBest * 1e6) direct_us=\(directBest * 1e6) "
                + "scan_us=\(scanBest * 1e6) ratio=\(foundationBest / tapeBest) direct_ratio=\(tapeBest / directBest)")
    }
}
