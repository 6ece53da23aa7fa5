import Base
import Foundation

/// The configuration tables of README.md, read back so a test can hold them against the code's table
/// (`ConfigVariable`): the README is what operators read, so it must not drift from what the daemons do.
public enum ReadmeVariables {
    /// The rows of the table after the `<!-- variables: NAME ...-->` marker: each variable and its default (nil when
    /// the README says `none`).
    public static func rows(after marker: String) throws -> [(name: String, defaultValue: String?)] {
        let text = try String(contentsOfFile: TestPaths.packageRoot + "/README.md", encoding: .utf8)
        guard let start = text.range(of: "<!-- variables: \(marker)") else { return [] }
        var rows: [(String, String?)] = []
        for line in text[start.upperBound...].split(separator: "\n").dropFirst().prefix(while: { $0.hasPrefix("|") }) {
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            guard cells.count >= 3, cells[1].hasPrefix("`") else { continue }  // the header and its rule
            let name = cells[1].trimmingCharacters(in: CharacterSet(charactersIn: "`"))
            let cell = cells[2]
            rows.append((name, cell.hasPrefix("none") ? nil : cell.replacingOccurrences(of: "`", with: "")))
        }
        return rows
    }

    /// Every difference between the README's table after `marker` and `variables`, one sentence each.
    public static func differences(marker: String, variables: [ConfigVariable]) throws -> [String] {
        let readme = try rows(after: marker)
        var problems: [String] = []
        if readme.isEmpty { problems.append("README.md has no table after <!-- variables: \(marker)") }
        let documented = Dictionary(readme.map { ($0.name, $0.defaultValue) }, uniquingKeysWith: { a, _ in a })
        for v in variables {
            guard let readmeDefault = documented[v.name] else {
                problems.append("\(v.name) is read by \(marker) but missing from README.md's table")
                continue
            }
            if readmeDefault != v.defaultValue {
                problems.append(
                    "\(v.name): README.md says the default is \(readmeDefault ?? "none"), "
                        + "the code \(v.defaultValue ?? "none")")
            }
        }
        let known = Set(variables.map(\.name))
        for row in readme where !known.contains(row.name) {
            problems.append("\(row.name) is in README.md's \(marker) table but \(marker) does not read it")
        }
        return problems
    }
}
