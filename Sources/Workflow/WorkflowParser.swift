import KDL

/// Reads `.solstice/workflow.kdl` (SPEC §5) into a `Workflow`, within `WorkflowLimits`.
///
/// Shape: an optional `workflow name="…" { … }` wrapper, or `job` nodes at the top level (both may be mixed). A
/// job's id is its first argument or its `id=` property; `runs_on` comes from a `runs_on`/`runs-on` property or child
/// node, `script` from a `script` property or child node. Anything else is left for the runner and ignored here.
///
/// A hostile repository writes this file, so the work is linear in its size: the byte limit is checked before
/// parsing, the job limit stops reading at the first job over it, and line numbers come from the document's line
/// index rather than a rescan per job.
public enum WorkflowParser {
    /// Parses UTF-8 `bytes` (KDL 2.0, or 1.0 when not valid 2.0).
    public static func parse(_ bytes: [UInt8], limits: WorkflowLimits = WorkflowLimits()) throws(WorkflowError)
        -> Workflow
    {
        guard bytes.count <= limits.maxBytes else {
            throw WorkflowError(
                kind: .workflow,
                message:
                    "the workflow file is \(bytes.count) bytes, more than WORKFLOW_MAX_BYTES (\(limits.maxBytes)); "
                    + "it was not read: make it smaller",
                location: KDLSourceLocation(offset: 0, in: bytes)
            )
        }
        let document: KDLDocument
        do {
            document = try KDLDocument.parse(bytes)
        } catch {
            throw WorkflowError(error)
        }
        return try workflow(from: document, limits: limits)
    }

    /// Parses `text`.
    public static func parse(_ text: String, limits: WorkflowLimits = WorkflowLimits()) throws(WorkflowError)
        -> Workflow
    {
        try parse(Array(text.utf8), limits: limits)
    }

    /// The workflow a parsed document describes (the byte limit is the caller's: the document is already parsed).
    public static func workflow(from document: KDLDocument, limits: WorkflowLimits = WorkflowLimits())
        throws(WorkflowError) -> Workflow
    {
        try checkDepth(document, limits)
        var name: String?
        var wrapper: KDLNode?
        var jobNodes: [KDLNode] = []
        func collect(_ node: KDLNode) throws(WorkflowError) {
            guard jobNodes.count < limits.maxJobs else {
                throw error(
                    "more than WORKFLOW_MAX_JOBS (\(limits.maxJobs)) jobs: this is job \(limits.maxJobs + 1); "
                        + "merge jobs, or split the work over several commits", node)
            }
            jobNodes.append(node)
        }
        for node in document.nodes {
            if node.isNamed("workflow") {
                if wrapper == nil {
                    wrapper = node
                    name = try string(
                        node.property("name")?.value ?? node.arguments.first?.value, "workflow name", node)
                }
                for child in node.children where child.isNamed("job") { try collect(child) }
            } else if node.isNamed("job") {
                try collect(node)
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
        jobs.reserveCapacity(jobNodes.count)
        var firstLines: [String: Int] = [:]
        for node in jobNodes {
            let job = try self.job(node, limits)
            if let line = firstLines[job.id] {
                throw error(
                    "duplicate job id \"\(job.id)\" (first defined on line \(line)); job ids must be unique", node)
            }
            firstLines[job.id] = node.line
            jobs.append(job)
        }
        return Workflow(name: name, jobs: jobs)
    }

    /// Refuses a document whose nodes nest deeper than `limits.maxDepth`, at the first such node in document order.
    private static func checkDepth(_ document: KDLDocument, _ limits: WorkflowLimits) throws(WorkflowError) {
        var stack = document.nodes.reversed().map { (node: $0, depth: 1) }
        while let (node, depth) = stack.popLast() {
            guard depth <= limits.maxDepth else {
                throw error(
                    "nodes are nested more than \(limits.maxDepth) levels deep (the workflow limit); "
                        + "a workflow needs only a few", node)
            }
            stack += node.children.reversed().map { (node: $0, depth: depth + 1) }
        }
    }

    private static func job(_ node: KDLNode, _ limits: WorkflowLimits) throws(WorkflowError) -> WorkflowJob {
        let argument = node.arguments.first?.value
        let property = node.property("id")?.value
        guard let idValue = argument ?? property else {
            throw error("job has no id; give it one as its first argument: job \"build\" { … }", node)
        }
        if let argument, let property, argument != property {
            throw error("job has two different ids, \(shown(argument)) and id=\(shown(property)); keep one", node)
        }
        guard case .string(let id) = idValue else {
            throw error("job id must be a string; quote it: job \"\(shown(idValue))\"", node)
        }
        let length = id.unicodeScalars.count
        guard length <= limits.maxIDLength else {
            throw error(
                "job id is \(length) characters long, more than the limit of \(limits.maxIDLength): shorten it", node)
        }
        guard !id.isEmpty, id.utf8.allSatisfy(isIDByte) else {
            throw error(
                "job id \(KDLValue.string(id)) may only contain letters, digits, '_', '.' and '-'", node
            )
        }
        let children = node.children
        var runsOn: String?
        if let (label, source) = try setting(["runs_on", "runs-on"], of: node, children) {
            guard limits.allows(runsOn: label) else {
                let globs = limits.runsOnAllowed?.joined(separator: ",") ?? ""
                throw error(
                    "runs_on \(shown(.string(label))) is not allowed here: RUNS_ON_ALLOWED is \(globs); "
                        + "ask for one of those labels", source)
            }
            runsOn = label
        }
        let script = try setting(["script"], of: node, children)?.value
        return WorkflowJob(id: id, runsOn: runsOn, scriptPath: script)
    }

    /// A string setting given as a property (first) or as a child node's first argument, with the node it was on.
    private static func setting(_ names: [String], of node: KDLNode, _ children: [KDLNode]) throws(WorkflowError)
        -> (value: String, node: KDLNode)?
    {
        for key in names {
            if let entry = node.property(key) { return try string(entry.value, key, node).map { ($0, node) } }
        }
        for child in children {
            for key in names where child.isNamed(key) {
                guard let value = child.arguments.first?.value else {
                    throw error("\(key) needs a value: \(key) \"…\"", child)
                }
                return try string(value, key, child).map { ($0, child) }
            }
        }
        return nil
    }

    private static func string(_ value: KDLValue?, _ what: String, _ node: KDLNode) throws(WorkflowError) -> String? {
        switch value {
        case nil, .null?: return nil
        case .string(let s)?: return s
        case let other?: throw error("\(what) must be a string, not \(shown(other)); quote it", node)
        }
    }

    /// A value as messages quote it: KDL text, cut to 60 characters (the file's author controls its length).
    private static func shown(_ value: KDLValue) -> String {
        let text = value.description
        return text.unicodeScalars.count > 60 ? String(text.unicodeScalars.prefix(60)) + "…" : text
    }

    private static func isIDByte(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7A) || c == 0x5F || c == 0x2E || c == 0x2D
    }

    private static func error(_ message: String, _ node: KDLNode) -> WorkflowError {
        WorkflowError(kind: .workflow, message: message, location: node.location)
    }
}
