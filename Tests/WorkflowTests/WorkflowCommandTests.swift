import Testing

@testable import Workflow

/// `solstice-fcgi workflow [FILE|-]` (SPEC §9): JSON on success, `FILE:LINE:COL: message` and exit 1 on error.
@Suite("WorkflowCommand")
struct WorkflowCommandTests {
    @Test("prints the jobs as JSON with sorted keys and explicit nulls")
    func success() throws {
        let output = WorkflowCommand.run(
            fileName: ".solstice/workflow.kdl", bytes: try WorkflowFixtures.bytes("workflow/spec-example.kdl")
        )
        #expect(output.exitCode == 0)
        #expect(output.stderr == "")
        #expect(
            output.stdout == """
                {
                  "jobs": [
                    {
                      "id": "lint",
                      "runs_on": "ubuntu-24.04",
                      "script_path": ".solstice/lint.sh"
                    },
                    {
                      "id": "build",
                      "runs_on": "omnios-r151054",
                      "script_path": ".solstice/job.sh"
                    }
                  ],
                  "name": "CI"
                }

                """
        )
    }

    @Test("nulls and escapes")
    func nulls() {
        let output = WorkflowCommand.run(fileName: "-", bytes: Array("job a script=\"x\\\"\\n\\u{1}\"".utf8))
        #expect(output.stdout.contains("\"runs_on\": null,"))
        #expect(output.stdout.contains("\"script_path\": \"x\\\"\\n\\u0001\""))
        #expect(output.stdout.contains("\"name\": null"))
    }

    @Test("errors go to stderr as FILE:LINE:COL: message, the line and a caret; exit 1")
    func failure() {
        let output = WorkflowCommand.run(fileName: "wf.kdl", bytes: Array("job a\njob a\n".utf8))
        #expect(output.exitCode == 1)
        #expect(output.stdout == "")
        #expect(
            output.stderr
                == "wf.kdl:2:1: duplicate job id \"a\" (first defined on line 1); job ids must be unique\njob a\n^\n"
        )
        let syntax = WorkflowCommand.run(fileName: "-", bytes: [0x6A, 0x6F, 0x62, 0x20, 0xFF])
        #expect(syntax.exitCode == 1)
        #expect(syntax.stderr.hasPrefix("-:1:5: invalid UTF-8"))
    }

    @Test("limit errors are reported like any other, with the limits the daemon applies")
    func limits() {
        let jobs = (1...257).map { "job j\($0)\n" }.joined()
        let tooMany = WorkflowCommand.run(fileName: "wf.kdl", bytes: Array(jobs.utf8))
        #expect(tooMany.exitCode == 1)
        #expect(tooMany.stdout == "")
        #expect(
            tooMany.stderr
                == "wf.kdl:257:1: more than WORKFLOW_MAX_JOBS (256) jobs: this is job 257; merge jobs, or split the "
                + "work over several commits\njob j257\n^\n")

        let big = WorkflowCommand.run(
            fileName: "wf.kdl", bytes: Array("job a\n".utf8) + [UInt8](repeating: 0x20, count: 262_140))
        #expect(big.exitCode == 1)
        #expect(
            big.stderr
                == "wf.kdl:1:1: the workflow file is 262146 bytes, more than WORKFLOW_MAX_BYTES (262144); it was not "
                + "read: make it smaller\njob a\n^\n")

        var limits = WorkflowLimits()
        limits.runsOnAllowed = ["ubuntu-*"]
        let source = Array("job a runs_on=\"ubuntu-24.04\"\njob b runs_on=\"windows\"\n".utf8)
        #expect(WorkflowCommand.run(fileName: "-", bytes: source).exitCode == 0)
        let refused = WorkflowCommand.run(fileName: "-", bytes: source, limits: limits)
        #expect(refused.exitCode == 1)
        #expect(refused.stderr.hasPrefix("-:2:1: runs_on windows is not allowed here: RUNS_ON_ALLOWED is ubuntu-*"))
    }
}
