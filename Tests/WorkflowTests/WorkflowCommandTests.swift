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
}
