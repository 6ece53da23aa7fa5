// Measures the KDL parser: for each file, parse it N times (build with -c release), report throughput, the memory a
// parsed document holds, and the process's peak RSS (VmHWM). With --workflow, times WorkflowParser instead (SPEC §5
// limits: the defaults, or --max-bytes/--max-jobs to lift them). scripts/kdl_bench.py drives it and compares with
// ckdl.
//
//   swift build -c release --product kdl-bench && .build/release/kdl-bench -n 10 big.kdl
//   .build/release/kdl-bench --workflow -n 10 [--max-bytes N] [--max-jobs N] workflow.kdl
import Base
import KDL
import Workflow

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The file's bytes, or nil.
func readFile(_ path: String) -> [UInt8]? {
    guard let file = fopen(path, "rb") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 20)
    while true {
        let n = fread(&chunk, 1, chunk.count, file)
        if n <= 0 { break }
        bytes.append(contentsOf: chunk[0..<n])
    }
    return bytes
}

/// A field of /proc/self/status in bytes (the kernel reports kB).
func procStatus(_ field: String) -> Int {
    guard let bytes = readFile("/proc/self/status") else { return 0 }
    for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix(field + ":") {
        let digits = line.dropFirst(field.count + 1).filter { $0.isNumber }
        return (Int(digits) ?? 0) * 1024
    }
    return 0
}

/// Times `WorkflowParser.parse` on each file: best and mean milliseconds, and what it gave (jobs, or the error).
func benchWorkflows(_ paths: [String], iterations: Int, limits: WorkflowLimits) {
    for path in paths {
        guard let bytes = readFile(path) else {
            print("\(path): cannot read")
            exit(1)
        }
        var best = Double.infinity
        var total = 0.0
        var outcome = ""
        for _ in 0..<iterations {
            let start = MonotonicClock.now()
            let result = Result { () throws(WorkflowError) in try WorkflowParser.parse(bytes, limits: limits) }
            let elapsed = MonotonicClock.now() - start
            best = min(best, elapsed)
            total += elapsed
            switch result {
            case .success(let workflow): outcome = "jobs=\(workflow.jobs.count)"
            case .failure(let error):
                outcome = "error=\(error.line):\(error.message.split(separator: " ").prefix(8).joined(separator: "_"))"
            }
        }
        let mean = total / Double(iterations)
        print(
            "\(path): \(bytes.count) bytes: \(DecimalText.fixed(best * 1e3)) ms best, \(DecimalText.fixed(mean * 1e3)) ms mean of \(iterations)"
        )
        print("RESULT file=\(path) bytes=\(bytes.count) best_ms=\(best * 1e3) mean_ms=\(mean * 1e3) \(outcome)")
    }
}

var arguments = Array(CommandLine.arguments.dropFirst())
var iterations = 5
var workflowMode = false
var limits = WorkflowLimits()
/// The number after flag `name`, removed from `arguments`.
func option(_ name: String, _ arguments: inout [String]) -> Int? {
    guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count, let n = Int(arguments[i + 1]) else {
        return nil
    }
    arguments.removeSubrange(i...(i + 1))
    return n
}
if let n = option("-n", &arguments) { iterations = max(1, n) }
if let n = option("--max-bytes", &arguments) { limits.maxBytes = n }
if let n = option("--max-jobs", &arguments) { limits.maxJobs = n }
if let i = arguments.firstIndex(of: "--workflow") {
    workflowMode = true
    arguments.remove(at: i)
}
if arguments.isEmpty {
    print("usage: kdl-bench [-n ITERATIONS] FILE...")
    print("       kdl-bench --workflow [-n ITERATIONS] [--max-bytes N] [--max-jobs N] FILE...")
    exit(2)
}
if workflowMode {
    benchWorkflows(arguments, iterations: iterations, limits: limits)
    exit(0)
}

for path in arguments {
    guard let bytes = readFile(path) else {
        print("\(path): cannot read")
        exit(1)
    }
    // The document's own cost: RSS held by one parsed document beyond the input bytes already in memory.
    let rssBefore = procStatus("VmRSS")
    let document: KDLDocument
    do {
        document = try KDLDocument.parse(bytes)
    } catch {
        print(error.render(fileName: path))
        exit(1)
    }
    let rssWithDocument = procStatus("VmRSS")
    var best = Double.infinity
    var total = 0.0
    for _ in 0..<iterations {
        let start = MonotonicClock.now()
        let parsed = try? KDLDocument.parse(bytes)
        let elapsed = MonotonicClock.now() - start
        precondition(parsed?.totalNodeCount == document.totalNodeCount)
        best = min(best, elapsed)
        total += elapsed
    }
    let size = bytes.count
    let meanRate = Double(size) * Double(iterations) / total / 1e6
    let bestRate = Double(size) / best / 1e6
    let footprint = document.memoryFootprint
    print(
        "\(path): \(DecimalText.fixed(Double(size) / 1e6)) MB, \(document.totalNodeCount) nodes, \(document.version): "
            + "\(DecimalText.fixed(meanRate)) MB/s mean, \(DecimalText.fixed(bestRate)) MB/s best of \(iterations); document holds "
            + "\(DecimalText.fixed(Double(footprint) / 1e6)) MB incl. source = \(DecimalText.fixed(Double(footprint) / Double(max(size, 1))))x "
            + "its size; peak RSS \(DecimalText.fixed(Double(procStatus("VmHWM")) / 1e6)) MB"
    )
    print(
        "RESULT file=\(path) bytes=\(size) nodes=\(document.totalNodeCount) mean_mbps=\(meanRate) "
            + "best_mbps=\(bestRate) best_ms=\(best * 1e3) mean_ms=\(total / Double(iterations) * 1e3) "
            + "document_bytes=\(footprint) document_rss_delta=\(rssWithDocument - rssBefore) "
            + "peak_rss=\(procStatus("VmHWM"))"
    )
}
