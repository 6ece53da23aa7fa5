import Base

/// The core of `solstice-fcgi workflow [FILE|-]` (SPEC §9): parse a workflow file and describe its jobs as JSON, or
/// report the error as `FILE:LINE:COL: message` with the line and a caret. The executable only reads the file and
/// writes the result.
public enum WorkflowCommand {
    /// What the command prints and how it exits.
    public struct Output: Sendable, Equatable {
        /// Printed to standard output: the JSON description, or nothing.
        public var stdout: String
        /// Printed to standard error: the rendered error, or nothing.
        public var stderr: String
        /// 0 on success, 1 when the file is rejected.
        public var exitCode: Int32
    }

    /// Parses `bytes` within `limits` (those the daemon would apply, so the command refuses what it refuses),
    /// naming the file `fileName` in errors (use `-` or `<stdin>` for standard input).
    public static func run(fileName: String, bytes: [UInt8], limits: WorkflowLimits = WorkflowLimits()) -> Output {
        do {
            let workflow = try WorkflowParser.parse(bytes, limits: limits)
            return Output(stdout: json(workflow), stderr: "", exitCode: 0)
        } catch {
            return Output(stdout: "", stderr: error.render(fileName: fileName) + "\n", exitCode: 1)
        }
    }

    /// `{"jobs": [{"id", "runs_on", "script_path"}], "name"}`: pretty-printed, keys sorted, nulls written out.
    public static func json(_ workflow: Workflow) -> String {
        var out = "{\n  \"jobs\": ["
        for (index, job) in workflow.jobs.enumerated() {
            out += index == 0 ? "\n" : ",\n"
            out += "    {\n"
            out += "      \"id\": \(quoted(job.id)),\n"
            out += "      \"runs_on\": \(quoted(job.runsOn)),\n"
            out += "      \"script_path\": \(quoted(job.scriptPath))\n"
            out += "    }"
        }
        out += workflow.jobs.isEmpty ? "],\n" : "\n  ],\n"
        out += "  \"name\": \(quoted(workflow.name))\n}\n"
        return out
    }

    private static func quoted(_ value: String?) -> String {
        value.map(JSONText.quote) ?? "null"
    }
}
