// Measures the broker's ceiling for our publisher, with no HTTP in the way: one `JobPublisher` — the responder's, with
// its `AMQPSettings` read from the environment as solstice-fcgi reads them, so the same URL (list), exchange, routing
// key, topology and queue type — and N threads that each publish one message at a time and wait for its confirm
// (`publish([message])`, as a FastCGI worker does), for S seconds; with `--rate R` the threads together publish at most
// R messages/s, so the broker's own latency can be read at the rate the webhook path reached. The bodies are JobRequests as the responder
// published them (bench/run.sh takes them off the queue after its warm-up), sent with the properties and headers
// JobDispatcher gives them. Prints messages/s, publish latency p50/p99 and the process's peak RSS (VmHWM).
//
//   swift build -c release --product publish-bench
//   AMQP_URL=amqp://... .build/release/publish-bench --publishers 64 --seconds 10 job1.json [job2.json ...]
import AMQP
import Base
import Events
import FoundationEssentials
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

let usage = """
    usage: publish-bench [--publishers N] [--seconds S] [--rate R] JOBREQUEST.json...

    Publishes the given JobRequest bodies in turn through one JobPublisher from N threads (default 64), each with one
    message in flight, for S seconds (default 10), at most R messages/s in all if --rate is given; prints messages/s, publish latency p50/p99 and peak RSS, then a
    RESULT line for scripts. The broker and the names come from the environment, as for solstice-fcgi:
    \(ConfigVariable.helpText(AMQPSettings.variables + LogSettings.variables))
    """
let tool = CommandLineTool(name: "publish-bench", version: "0.1.0", usage: usage)

var publisherCount = 64
var seconds = 10.0
var rate: Double?
var files: [String] = []
var args = CommandLine.arguments.dropFirst()
while let arg = args.popFirst() {
    tool.answerHelpOrVersion(arg)
    switch arg {
    case "--publishers":
        guard let value = args.popFirst().flatMap({ Int($0) }), (1...1024).contains(value) else {
            tool.fail("--publishers needs a number from 1 to 1024")
        }
        publisherCount = value
    case "--seconds":
        guard let value = args.popFirst().flatMap({ Double($0) }), value > 0 else {
            tool.fail("--seconds needs a positive number")
        }
        seconds = value
    case "--rate":
        guard let value = args.popFirst().flatMap({ Double($0) }), value > 0 else {
            tool.fail("--rate needs a positive number of messages per second")
        }
        rate = value
    case _ where arg.hasPrefix("-"):
        tool.fail("unknown flag \(arg); see --help")
    default:
        files.append(arg)
    }
}
guard !files.isEmpty else { tool.fail("no JobRequest bodies given; see --help") }
let runSeconds = seconds
/// Seconds between one thread's publishes under --rate (each thread takes an equal share), 0 without it.
let interval = rate.map { Double(publisherCount) / $0 } ?? 0
let threadCount = publisherCount

/// One body to publish, and the event header the responder gave it.
struct Job: Sendable {
    let body: [UInt8]
    let event: String
}

let jobs: [Job] = files.map { path in
    guard let bytes = (try? FileDescriptor(path: path, flags: O_RDONLY))?.readAll() else {
        tool.fail("cannot read \(path)", code: 1)
    }
    // A JobRequest, not any file: the figure is only the ceiling of *this* message size.
    guard let request = try? JSONDecoder().decode(JobRequest.self, from: Data(bytes)) else {
        tool.fail("\(path) is not a JobRequest (schema \(JobRequest.schema))", code: 1)
    }
    return Job(body: bytes, event: request.event)
}

let environment = Environment(ProcessEnvironment.current())
let settings: AMQPSettings
let logger: Logger
do {
    settings = try AMQPSettings.load(environment)
    logger = try LogSettings.load(environment).logger
} catch {
    tool.fail(error.description)
}

let publisher: JobPublisher
do {
    publisher = try JobPublisher(settings: settings, logger: logger, connectAtStart: true)
} catch {
    tool.fail("invalid configuration: AMQP_URL: \(error.message)")
}

/// A message as JobDispatcher builds it, with a unique 36-character id (a delivery GUID's length) as its message id
/// and `x-github-delivery`.
@Sendable func message(_ job: Job, publisher: Int, sequence: Int) -> AMQPMessage {
    let id = "00000000-0000-5000-8000-" + hex(publisher, width: 4) + hex(sequence, width: 8)
    return AMQPMessage(
        body: job.body, messageID: id, type: JobRequest.schema, timestamp: UInt64(WallClock.now()),
        headers: [("x-github-delivery", id), ("x-github-event", job.event)])
}

@Sendable func hex(_ value: Int, width: Int) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: max(0, width - digits.count)) + digits.suffix(width)
}

// The first publish connects and declares the topology; the clock starts after it.
if case .failed(let reason, _) = publisher.publish([message(jobs[0], publisher: 0xffff, sequence: 0)]) {
    tool.fail("the first publish failed: \(reason)", code: 1)
}

/// What each publisher thread measured: latencies of confirmed publishes (seconds) and the failures.
let measured = Mutex<(latencies: [Double], failed: Int, firstFailure: String?)>(([], 0, nil))
let start = MonotonicClock.now()
let deadline = start + runSeconds
var threads: [pthread_t] = []
for p in 0..<publisherCount {
    threads.append(
        Threads.startJoinable {
            var latencies: [Double] = []
            latencies.reserveCapacity(Int(runSeconds) * 1000)
            var failed = 0
            var firstFailure: String?
            var sequence = 0
            // Under --rate, thread p publishes at start + (k + p/N) × interval: spread evenly, never ahead.
            var scheduled = start + interval * Double(p) / Double(threadCount)
            while MonotonicClock.now() < deadline {
                if interval > 0 {
                    let wait = scheduled - MonotonicClock.now()
                    if wait > 0 { _ = MonotonicClock.sleep(wait) }
                    scheduled += interval
                    guard MonotonicClock.now() < deadline else { break }
                }
                let job = jobs[(p + sequence) % jobs.count]
                let m = message(job, publisher: p, sequence: sequence)
                sequence += 1
                let t0 = MonotonicClock.now()
                switch publisher.publish([m]) {
                case .confirmed:
                    latencies.append(MonotonicClock.now() - t0)
                case .failed(let reason, _):
                    failed += 1
                    if firstFailure == nil { firstFailure = reason }
                }
            }
            measured.withLock { m in
                m.latencies.append(contentsOf: latencies)
                m.failed += failed
                if m.firstFailure == nil { m.firstFailure = firstFailure }
            }
        })
}
for thread in threads { pthread_join(thread, nil) }
let elapsed = MonotonicClock.now() - start

/// A field of /proc/self/status in MB (the kernel reports kB).
func procStatusMB(_ field: String) -> Double {
    guard let bytes = (try? FileDescriptor(path: "/proc/self/status", flags: O_RDONLY))?.readAll() else { return 0 }
    for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix(field + ":") {
        return Double(line.dropFirst(field.count + 1).filter(\.isNumber)).map { $0 / 1024 } ?? 0
    }
    return 0
}

let (latencies, failed, firstFailure) = measured.withLock { ($0.latencies.sorted(), $0.failed, $0.firstFailure) }
func percentile(_ p: Double) -> Double {
    latencies.isEmpty ? 0 : latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))] * 1000
}
let achieved = Double(latencies.count) / elapsed
let sizes = jobs.map(\.body.count)
let meanSize = sizes.reduce(0, +) / sizes.count
let rss = procStatusMB("VmHWM")
print(
    "publish-bench: \(publisherCount) publishers\(rate.map { " at most \(DecimalText.fixed($0, 0))/s" } ?? ""), \(DecimalText.fixed(elapsed)) s, \(jobs.count) JobRequest bodies of "
        + "\(sizes.min()!)-\(sizes.max()!) bytes, node \(publisher.connectedNode ?? "none") (\(settings.queueType)): "
        + "\(latencies.count) confirmed, \(DecimalText.fixed(achieved, 0)) messages/s, p50 \(DecimalText.fixed(percentile(0.5))) ms, "
        + "p99 \(DecimalText.fixed(percentile(0.99))) ms, \(failed) failed, peak RSS \(DecimalText.fixed(rss, 1)) MB")
if let firstFailure { print("first failure: \(firstFailure)") }
print(
    "RESULT publishers=\(publisherCount) seconds=\(DecimalText.fixed(elapsed)) confirmed=\(latencies.count) rate=\(DecimalText.fixed(achieved, 0)) "
        + "p50_ms=\(DecimalText.fixed(percentile(0.5))) p99_ms=\(DecimalText.fixed(percentile(0.99))) failed=\(failed) "
        + "body_bytes=\(meanSize) rss_mb=\(DecimalText.fixed(rss, 1))")
exit(0)
