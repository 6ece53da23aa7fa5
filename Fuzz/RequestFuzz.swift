// libFuzzer entry point of the request-path fuzzer, linked against the library modules by scripts/fuzz-request.sh.
// The first input byte picks the mode:
//
//   'F'  a raw FastCGI record stream through the real adapter on a unix socket (TransportFuzz.swift);
//   'C'  a CGI environment and body through CGIAdapter (TransportFuzz.swift);
//   else the transport-neutral request path (gate → verify → decode → map → route → expand → plan → dispatch →
//        spool → record → answer) with a WebhookRequest built from the input, below.
//
// The broker and GitHub are replaced at their protocol seams (MessagePublishing, JobExpanding) by in-memory fakes
// driven by the input; the spool (DeliveryRecords, JobOutbox) is real, on tmpfs. Checked besides "no crash, no hang":
// every answer has a status of SPEC §3, a JSON body unless 204, and a 202 never leaves a delivery both unpublished
// and unspooled.

import AMQP
import Base
import Delivery
import Events
import Jobs
import Webhook
import Workflow

#if canImport(Glibc)
    import Glibc
#endif

/// Answers publishes as the input says: confirm all, fail all, or fail the odd ones.
final class FuzzPublisher: MessagePublishing, @unchecked Sendable {
    var mode: UInt8 = 0
    var published = 0
    var failedAny = false
    func publish(_ messages: [AMQPMessage]) -> PublishResult {
        switch mode % 3 {
        case 0:
            published += messages.count
            return .confirmed
        case 1:
            failedAny = true
            return .failed("fuzz: broker down", unconfirmed: Array(messages.indices))
        default:
            let odd = messages.indices.filter { $0 % 2 == 1 }
            published += messages.count - odd.count
            failedAny = failedAny || !odd.isEmpty
            return odd.isEmpty ? .confirmed : .failed("fuzz: nack", unconfirmed: odd)
        }
    }
}

/// Expands with a workflow taken from the input, parsed by the real parser, as if GitHub had served that file.
/// One per cached responder; the input of the moment sets `workflow` (one input at a time per expander).
final class FuzzExpander: JobExpanding, @unchecked Sendable {
    var workflow: [UInt8]
    init(workflow: [UInt8]) { self.workflow = workflow }
    func expand(_ trigger: BuildTrigger, deadline: Double) -> Expansion {
        do {
            let parsed = try WorkflowParser.parse(workflow)
            return Expansion(
                appInstalled: true,
                jobs: parsed.jobs.map {
                    PlannedJob(workflowJobID: $0.id, runsOn: $0.runsOn, scriptPath: $0.scriptPath, workflowPath: "w")
                })
        } catch {
            return Expansion(appInstalled: true, jobs: [.withoutWorkflow], workflowError: error)
        }
    }
}

let fuzzSpool = try! SpoolDirectory(path: "/dev/shm/solstice-request-fuzz-\(getpid())")
let validStatuses: Set<Int> = [200, 202, 204, 400, 401, 404, 405, 413, 415, 503]

@_cdecl("LLVMFuzzerTestOneInput")
public func requestFuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    switch input.first {
    case UInt8(ascii: "F"): FastCGIMode.run(input)
    case UInt8(ascii: "C"): CGIMode.run(input)
    default: neutralOneInput(input)
    }
    return 0
}

/// A responder per configuration the flags can ask for (secret, repository and branch allowlists, spool), made once:
/// making one per input would log the dev-mode warning of the constructor for every input.
nonisolated(unsafe) var neutralResponders: [UInt8: (WebhookResponder, FuzzPublisher, FuzzExpander)] = [:]

/// The transport-neutral mode: input[0] flags, input[1] request choices, input[2] publisher mode, input[3] a
/// number, then header text 0xFF body 0xFF workflow.
func neutralOneInput(_ input: [UInt8]) {
    guard input.count >= 4 else { return }
    let flags = input[0]
    let choice = input[1]
    // Split the rest: header text | body | workflow, at the first two 0xFF bytes.
    let rest = input[4...]
    let parts = rest.split(separator: 0xFF, maxSplits: 2, omittingEmptySubsequences: false).map(Array.init)
    let headerText = String(decoding: parts[0], as: UTF8.self)
    let body = parts.count > 1 ? parts[1] : []
    let workflow = parts.count > 2 ? parts[2] : []

    let key = flags & 0x0F
    if neutralResponders[key] == nil {
        var config = WebhookConfiguration()
        config.maxBodyBytes = 1 << 16
        if flags & 1 != 0 { config.webhookSecrets = ["fuzz-secret", "other"] }
        if flags & 2 != 0 { config.repoAllowlist = ["Codertocat/*"] }
        if flags & 4 != 0 { config.branchAllowlist = ["main", "release/*"] }
        let publisher = FuzzPublisher()
        let expander = FuzzExpander(workflow: [])
        let spool = flags & 8 != 0 ? fuzzSpool : nil
        let logger = Logger(level: .error)
        let responder = WebhookResponder(
            configuration: config,
            dispatcher: JobDispatcher(publisher: publisher, outbox: spool.map(JobOutbox.init), logger: logger),
            expander: expander, spool: spool, logger: logger)
        neutralResponders[key] = (responder, publisher, expander)
    }
    let (responder, publisher, expander) = neutralResponders[key]!
    publisher.mode = input[2]
    publisher.published = 0
    publisher.failedAny = false
    expander.workflow = workflow

    let events = ["push", "pull_request", "ping", "check_suite", "check_run", "issues", headerText]
    let types = [
        "application/json", "application/x-www-form-urlencoded", "application/json; charset=utf-8", "text/plain",
        headerText,
    ]
    var request = WebhookRequest(
        method: choice & 1 == 0 ? "POST" : (choice & 2 == 0 ? "GET" : headerText),
        path: choice & 4 == 0 ? "/webhooks/github" : "/" + headerText,
        contentType: choice & 8 == 0 ? types[Int(input[3]) % types.count] : nil,
        contentLength: choice & 16 == 0 ? body.count : (choice & 32 == 0 ? nil : Int(input[3]) * 1000),
        event: choice & 64 == 0 ? events[Int(input[3] >> 3) % events.count] : nil,
        delivery: choice & 128 == 0 ? "d-\(input[3])" : nil)
    if flags & 16 != 0 {
        request.signature = SignatureVerifier.signature(secret: "fuzz-secret", body: body)
    } else if flags & 32 != 0 {
        request.signature = headerText
    }
    if flags & 64 != 0 { request.installationTarget = headerText }

    let response = responder.respond(to: request) { limit in
        flags & 128 != 0 ? nil : Array(body.prefix(limit + 1))
    }
    if !validStatuses.contains(response.status) { fatalError("status \(response.status) is not in SPEC §3") }
    if response.status != 204 && (response.body.first != UInt8(ascii: "{") || response.body.last != UInt8(ascii: "}")) {
        fatalError("status \(response.status) without a JSON object body")
    }
    if response.status == 202 && publisher.failedAny && flags & 8 == 0 {
        fatalError("202 although nothing was confirmed and there is no spool")
    }
}
