/// A `ferry` subcommand cannot do what was asked, for a reason other than how it was called (a
/// type nobody registered, a missing key, unreadable input): printed as `Error: <message>`
/// without the usage text, exit status 1. Wrong options and arguments stay `ValidationError`s.
public struct CommandFailure: Error, Sendable, CustomStringConvertible {
    /// What went wrong and what to do about it.
    public var description: String

    /// A failure that says `description`.
    public init(_ description: String) {
        self.description = description
    }
}
