/// The markers that ask for no build (SPEC §4), found in a push's head commit message, a pull request's title or
/// its head commit message, in any case.
public enum SkipMarkers {
    /// The markers, as the answer names them.
    public static let all = ["[skip ci]", "[ci skip]", "[no ci]", "[skip solstice]"]

    /// The first marker `text` contains, ignoring case, or nil.
    public static func find(in text: String?) -> String? {
        guard let text, text.contains("[") else { return nil }
        let lowered = text.lowercased()
        return all.first { lowered.contains($0) }
    }
}
