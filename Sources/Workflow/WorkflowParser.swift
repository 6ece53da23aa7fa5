import KDL

/// Reads `.solstice/workflow.kdl` (SPEC §5) into a `Workflow`.
///
/// Shape: an optional `workflow name="…" { … }` wrapper, or `job` nodes at the top level (both may be mixed). A
/// job's id is its first argument or its `id=` property; `runs_on` comes from a `runs_on`/`runs-on` property or child
/// node, `script` from a `script` property or child node. Anything else is left for the runner and ignored here.
public enum WorkflowParser {
    /// Parses UTF-8 `bytes` (KDL 2.0, or 1.0 when not valid 2.0).
    public static func parse(_ bytes: [UInt8]) throws(WorkflowError) -> Workflow {
        let document: KDLDocument
        do {
            document = try KDLDocument.parse(bytes)
        } catch {
            throw WorkflowError(error)
        }
        return try workflow(from: document)
    }

    /// Parses `text`.
    public static func parse(_ text: String) throws(WorkflowError) -> Workflow {
        try parse(Array(text.utf8))
    }

    /// The workflow a parsed document describes.
    public static func workflow(from document: KDLDocument) throws(WorkflowError) -> Workflow {
        var name: String?
        var wrapper: KDLNode?
        var jobNodes: [KDLNode] = []
        for node in document.nodes {
            if node.isNamed("workflow") {
                if wrapper == nil {
                    wrapper = node
                    name = try string(
                        node.property("name")?.value ?? node.arguments.first?.value, "workflow name", node)
                }
                jobNodes += node.children(named: "job")
            } else if node.isNamed("job") {
                jobNodes.append(node)
            }
        }
        guard !jobNodes.isEmpty else {
            throw WorkflowError(
                kind: .workflow,
                message: "the workflow defines no jobs; add one, e.g. job \"build\" script=\".solstice/build.sh\"",
                location: wrapper?.location ?? document.startLocation
            )
        }
        var jobs: [WorkflowJob] = []
        var firstLines: [String: Int] = [:]
        for node in jobNodes {
            let job = try self.job(node)
            if let line = firstLines[job.id] {
                throw error(
                    "duplicate job id \"\(job.id)\" (first defined on line \(line)); job ids must be unique", node)
            }
            firstLines[job.id] = node.location.line
            jobs.append(job)
        }
        return Workflow(name: name, jobs: jobs)
    }

    private static func job(_ node: KDLNode) throws(WorkflowError) -> WorkflowJob {
        let argument = node.arguments.first?.value
        let property = node.property("id")?.value
        guard let idValue = argument ?? property else {
            throw error("job has no id; give it one as its first argument: job \"build\" { … }", node)
        }
        if let argument, let property, argument != property {
            throw error("job has two different ids, \(argument) and id=\(property); keep one", node)
        }
        guard case .string(let id) = idValue else {
            throw error("job id must be a string; quote it: job \"\(idValue)\"", node)
        }
        guard !id.isEmpty, id.utf8.allSatisfy(isIDByte) else {
            throw error(
                "job id \(KDLValue.string(id)) may only contain letters, digits, '_', '.' and '-'", node
            )
        }
        let runsOn = try setting(["runs_on", "runs-on"], of: node)
        let script = try setting(["script"], of: node)
        return WorkflowJob(id: id, runsOn: runsOn, scriptPath: script)
    }

    /// A string setting given as a property (first) or as a child node's first argument.
    private static func setting(_ names: [String], of node: KDLNode) throws(WorkflowError) -> String? {
        for key in names {
            if let entry = node.property(key) { return try string(entry.value, key, node) }
        }
        for child in node.children {
            for key in names where child.isNamed(key) {
                guard let value = child.arguments.first?.value else {
                    throw error("\(key) needs a value: \(key) \"…\"", child)
                }
                return try string(value, key, child)
            }
        }
        return nil
    }

    private static func string(_ value: KDLValue?, _ what: String, _ node: KDLNode) throws(WorkflowError) -> String? {
        switch value {
        case nil, .null?: return nil
        case .string(let s)?: return s
        case let other?: throw error("\(what) must be a string, not \(other); quote it", node)
        }
    }

    private static func isIDByte(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7A) || c == 0x5F || c == 0x2E || c == 0x2D
    }

    private static func error(_ message: String, _ node: KDLNode) -> WorkflowError {
        WorkflowError(kind: .workflow, message: message, location: node.location)
    }
}
