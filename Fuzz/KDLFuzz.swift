// libFuzzer entry point for the KDL parser (and the workflow model on top), linked against the KDL and Workflow
// modules (and Base below them) that scripts/fuzz-kdl.sh builds with coverage and ASan.
// Besides "no crash, no hang", it checks:
// - a round trip: whatever parses must print canonical text that parses again as KDL 2.0 and prints identically;
// - locations: a node's location through the document's line index equals a rescan from byte 0;
// - the workflow limits (SPEC §5), at their edges: an input the defaults accept as a workflow is read again with
//   every limit set exactly to what it uses (bytes, jobs, longest id, deepest node, its runs_on labels as the only
//   allowed globs), which must give the same workflow, and then with each limit one step tighter, which must refuse
//   it with a workflow error naming that limit; an input the defaults refuse must stay refused under tight limits
//   picked by its last byte, a syntax error identically.

import KDL
import Workflow

@_cdecl("LLVMFuzzerTestOneInput")
public func kdlFuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    _ = WorkflowCommand.run(fileName: "fuzz.kdl", bytes: bytes)
    checkWorkflowLimits(bytes)
    do {
        let document = try KDLDocument.parse(bytes)
        let printed = document.canonicalText()
        for node in document.nodes.prefix(8) {
            _ = node.name
            _ = node.arguments
            _ = node.properties
            for located in [node] + node.children.prefix(4) {
                let location = located.location
                if location != KDLSourceLocation(offset: location.offset, in: bytes) || located.line != location.line {
                    fatalError("location through the line index differs from a rescan at \(location.offset)")
                }
            }
        }
        let reparsed: KDLDocument
        do {
            reparsed = try KDLDocument.parse(Array(printed.utf8), version: .v2)
        } catch {
            fatalError("canonical output does not parse: \(error)\n--- printed:\n\(printed)")
        }
        let again = reparsed.canonicalText()
        if again != printed { fatalError("round trip differs:\n\(printed)\n--- vs:\n\(again)") }
    } catch {
        _ = error.render(fileName: "fuzz.kdl")
    }
    return 0
}

/// Reads `bytes` as a workflow with the default limits and then at the edges of each limit (see above).
func checkWorkflowLimits(_ bytes: [UInt8]) {
    let defaults = WorkflowLimits()
    guard bytes.count <= defaults.maxBytes else { return }
    let workflow: Workflow
    do {
        workflow = try WorkflowParser.parse(bytes)
    } catch {
        // Refused with the defaults: refused under any tighter limits too, a syntax error identically.
        do {
            let accepted = try WorkflowParser.parse(bytes, limits: knobLimits(bytes))
            fatalError("tight limits accepted what the defaults refuse (\(error)): \(accepted)")
        } catch let tight {
            if error.kind == .syntax && tight.kind == .syntax && tight != error {
                fatalError("the same syntax error differs under other limits: \(error) vs \(tight)")
            }
        }
        return
    }
    let jobs = workflow.jobs.count
    let longest = workflow.jobs.map { $0.id.unicodeScalars.count }.max() ?? 0
    let depth = (try? KDLDocument.parse(bytes)).map(deepest) ?? 0
    let labels = Set(workflow.jobs.compactMap(\.runsOn))

    // Exactly at every limit: accepted, and read the same.
    var exact = defaults
    exact.maxBytes = bytes.count
    exact.maxJobs = jobs
    exact.maxIDLength = longest
    exact.maxDepth = depth
    if !labels.contains(where: { $0.utf8.contains(0) }) { exact.runsOnAllowed = labels.map(escaped) }
    do {
        let same = try WorkflowParser.parse(bytes, limits: exact)
        if same != workflow { fatalError("limits changed what was read: \(same) vs \(workflow)") }
    } catch {
        fatalError("refused at its own limits (\(exact)): \(error)")
    }

    // One step inside each limit: refused, by that limit.
    func refused(_ change: (inout WorkflowLimits) -> Void, _ named: String) {
        var limits = defaults
        change(&limits)
        do {
            let accepted = try WorkflowParser.parse(bytes, limits: limits)
            fatalError("accepted over a limit (\(named), \(limits)): \(accepted)")
        } catch {
            if error.kind != .workflow || !error.message.contains(named) {
                fatalError("refused over the \(named) limit, but not naming it: \(error)")
            }
        }
    }
    refused({ $0.maxBytes = bytes.count - 1 }, "WORKFLOW_MAX_BYTES")
    if jobs > 1 { refused({ $0.maxJobs = jobs - 1 }, "WORKFLOW_MAX_JOBS (\(jobs - 1)) jobs: this is job \(jobs)") }
    if longest > 1 { refused({ $0.maxIDLength = longest - 1 }, "more than the limit of \(longest - 1)") }
    if depth > 1 { refused({ $0.maxDepth = depth - 1 }, "nested more than \(depth - 1) levels deep") }
    if let label = labels.first {
        refused({ $0.runsOnAllowed = labels.subtracting([label]).map(escaped) }, "RUNS_ON_ALLOWED")
    }
}

/// Tight limits picked by the input's last byte: jobs 1-4, depth 1-4, id length 1-4, RUNS_ON_ALLOWED on or off,
/// and the byte limit one short or not.
func knobLimits(_ bytes: [UInt8]) -> WorkflowLimits {
    let knob = Int(bytes.last ?? 0)
    var limits = WorkflowLimits()
    limits.maxJobs = 1 + knob % 4
    limits.maxDepth = 1 + (knob >> 2) % 4
    limits.maxIDLength = 1 + (knob >> 4) % 4
    limits.runsOnAllowed = knob & 0x40 != 0 ? ["u*", "o?-[0-9]"] : nil
    limits.maxBytes = knob & 0x80 != 0 ? max(0, bytes.count - 1) : bytes.count
    return limits
}

/// The deepest level of any node, top-level nodes being at level 1.
func deepest(_ document: KDLDocument) -> Int {
    var deepest = 0
    var stack = document.nodes.map { ($0, 1) }
    while let (node, depth) = stack.popLast() {
        deepest = max(deepest, depth)
        stack += node.children.map { ($0, depth + 1) }
    }
    return deepest
}

/// A glob matching exactly `label` (fnmatch's special characters escaped).
func escaped(_ label: String) -> String {
    var pattern = ""
    for c in label.unicodeScalars {
        if "*?[]\\".unicodeScalars.contains(c) { pattern += "\\" }
        pattern.unicodeScalars.append(c)
    }
    return pattern
}
