// Measures the KDL parser: for each file, parse it N times (build with -c release), report throughput, the memory a
// parsed document holds, and the process's peak RSS (VmHWM). scripts/kdl_bench.py drives it and compares with ckdl.
//
//   swift build -c release --product kdl-bench && .build/release/kdl-bench -n 10 big.kdl
import KDL

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

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// `value` with two decimals (no Foundation here).
func fixed(_ value: Double) -> String {
    let hundredths = Int((value * 100).rounded())
    let fraction = hundredths % 100
    return "\(hundredths / 100)." + (fraction < 10 ? "0\(fraction)" : "\(fraction)")
}

var arguments = Array(CommandLine.arguments.dropFirst())
var iterations = 5
if let i = arguments.firstIndex(of: "-n"), i + 1 < arguments.count, let n = Int(arguments[i + 1]) {
    iterations = max(1, n)
    arguments.removeSubrange(i...(i + 1))
}
if arguments.isEmpty {
    print("usage: kdl-bench [-n ITERATIONS] FILE...")
    exit(2)
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
        let start = now()
        let parsed = try? KDLDocument.parse(bytes)
        let elapsed = now() - start
        precondition(parsed?.totalNodeCount == document.totalNodeCount)
        best = min(best, elapsed)
        total += elapsed
    }
    let size = bytes.count
    let meanRate = Double(size) * Double(iterations) / total / 1e6
    let bestRate = Double(size) / best / 1e6
    let footprint = document.memoryFootprint
    print(
        "\(path): \(fixed(Double(size) / 1e6)) MB, \(document.totalNodeCount) nodes, \(document.version): "
            + "\(fixed(meanRate)) MB/s mean, \(fixed(bestRate)) MB/s best of \(iterations); document holds "
            + "\(fixed(Double(footprint) / 1e6)) MB incl. source = \(fixed(Double(footprint) / Double(max(size, 1))))x "
            + "its size; peak RSS \(fixed(Double(procStatus("VmHWM")) / 1e6)) MB"
    )
    print(
        "RESULT file=\(path) bytes=\(size) nodes=\(document.totalNodeCount) mean_mbps=\(meanRate) "
            + "best_mbps=\(bestRate) "
            + "document_bytes=\(footprint) document_rss_delta=\(rssWithDocument - rssBefore) "
            + "peak_rss=\(procStatus("VmHWM"))"
    )
}
