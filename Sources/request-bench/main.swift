// The responder's own CPU per webhook, without HTTP, FastCGI or a broker: `WebhookResponder.respond` on signed
// push and pull_request samples with a unique delivery each, as solstice-fcgi runs it (signature, mapping, the
// delivery record under SPOOL_DIR's lock stripes and record slots, the JobRequest bodies, the answer), with a publisher
// that confirms at once. `make profile` measures the same work inside the whole path, where wrk, nginx and RabbitMQ
// share the machine; this figure leaves them out, so a change of a few percent in our code shows (run two builds in
// turns: the machine's own speed drifts too). Prints CPU µs per webhook (the process's CPU time over the webhooks
// answered) and the per-thread rate, the best of 5 rounds; the spool is a fresh temporary directory.
//
//   swift build -c release --product request-bench && .build/release/request-bench [--threads N] [-n COUNT] [FILE...]
import AMQP
import Base
import Delivery
import Jobs
import Synchronization
import Webhook

#if canImport(Glibc)
    import Glibc
#endif

/// Confirms every publish at once, counting the messages (the broker's side is `publish-bench`'s).
final class ConfirmingPublisher: MessagePublishing {
    let messages = Atomic<Int>(0)
    func publish(_ batch: [AMQPMessage]) -> PublishResult {
        messages.add(batch.count, ordering: .relaxed)
        return .confirmed
    }
}

/// Removes `path` and everything below it (the bench's own spool).
func removeTree(_ path: String) {
    var info = stat()
    guard lstat(path, &info) == 0 else { return }
    if info.st_mode & S_IFMT == S_IFDIR {
        for name in Posix.list(path) { removeTree(path + "/" + name) }
        rmdir(path)
    } else {
        unlink(path)
    }
}

/// CPU seconds of the whole process so far (all threads).
func processCPU() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// `name N` taken out of `arguments`, or `value` without it.
func option(_ name: String, in arguments: inout [String], default value: Int) -> Int {
    guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count, let n = Int(arguments[i + 1]), n > 0 else {
        return value
    }
    arguments.removeSubrange(i...(i + 1))
    return n
}
var arguments = Array(CommandLine.arguments.dropFirst())
let threadCount = option("--threads", in: &arguments, default: 1)
let perRound = option("-n", in: &arguments, default: 4000)
if arguments.isEmpty {
    let directory = ProcessEnvironment.current()["GITHUB_PAYLOADS_DIR"] ?? "../shared/reference/github-payloads"
    arguments = ["\(directory)/push.with-new-branch.json", "\(directory)/pull_request.synchronize.json"]
}
let secret = "request-bench secret"
let payloads: [(event: String, body: [UInt8], signature: String)] = arguments.map { path in
    guard let raw = (try? FileDescriptor(path: path, flags: O_RDONLY))?.readAll() else {
        print("\(path): cannot read")
        exit(1)
    }
    let body = JSONText.compacted(raw)  // as GitHub sends it
    let event = String(path.split(separator: "/").last!.prefix { $0 != "." })
    return (event, body, SignatureVerifier.signature(secret: secret, body: body))
}

let spoolPath = "/tmp/request-bench-\(getpid())"
removeTree(spoolPath)
let environment = Environment([
    "GITHUB_WEBHOOK_SECRET": secret, "AMQP_URL": "amqp://127.0.0.1:1/%2f", "SPOOL_DIR": spoolPath,
    "LOG_LEVEL": "error",
])
let configuration: WebhookConfiguration
let spool: SpoolDirectory
do {
    configuration = try WebhookConfiguration.load(environment)
    spool = try SpoolDirectory(path: spoolPath)
} catch {
    print("request-bench: \(error)")
    exit(1)
}
let logger = Logger(level: .error)
let publisher = ConfirmingPublisher()
let responder = WebhookResponder(
    configuration: configuration,
    dispatcher: JobDispatcher(publisher: publisher, outbox: JobOutbox(spool: spool), logger: logger),
    spool: spool, logger: logger)

/// Answers `count` webhooks on the calling thread, delivery ids `prefix-0`…; false unless every one was a 202.
@Sendable func answer(_ count: Int, prefix: String) -> Bool {
    var accepted = 0
    for n in 0..<count {
        let payload = payloads[n % payloads.count]
        let request = WebhookRequest(
            method: "POST", path: configuration.webhookPath, contentType: "application/json",
            contentLength: payload.body.count, signature: payload.signature, event: payload.event,
            delivery: "\(prefix)-\(n)")
        if responder.respond(to: request, readBody: { _ in payload.body }).status == 202 { accepted += 1 }
    }
    return accepted == count
}

guard answer(200, prefix: "warm") else {
    print("request-bench: a warm-up webhook was not answered 202")
    exit(1)
}
var bestCPU = Double.infinity
var bestRate = 0.0
for round in 0..<5 {
    let failed = Atomic<Int>(0)
    let (cpu0, wall0) = (processCPU(), MonotonicClock.now())
    let threads = (0..<threadCount).map { t in
        Threads.startJoinable {
            if !answer(perRound, prefix: "r\(round)-t\(t)") { failed.add(1, ordering: .relaxed) }
        }
    }
    for thread in threads { pthread_join(thread, nil) }
    let (cpu, wall) = (processCPU() - cpu0, MonotonicClock.now() - wall0)
    guard failed.load(ordering: .relaxed) == 0 else {
        print("request-bench: a webhook was not answered 202")
        exit(1)
    }
    let webhooks = Double(perRound * threadCount)
    bestCPU = min(bestCPU, cpu / webhooks)
    bestRate = max(bestRate, webhooks / wall / Double(threadCount))
}
removeTree(spoolPath)
let sizes = payloads.map { "\($0.event) \($0.body.count) B" }.joined(separator: ", ")
print(
    "request-bench: \(threadCount) thread(s), \(perRound) webhooks each per round (\(sizes), in turn), "
        + "\(publisher.messages.load(ordering: .relaxed)) jobs published: \(DecimalText.fixed(bestCPU * 1e6, 1)) µs "
        + "of CPU per webhook, \(DecimalText.fixed(bestRate, 0)) webhooks/s per thread, best of 5 rounds")
print("RESULT threads=\(threadCount) cpu_us=\(bestCPU * 1e6) rate_per_thread=\(bestRate)")
