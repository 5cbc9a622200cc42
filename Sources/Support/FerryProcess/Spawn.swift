public import Foundation

/// Starts programs as child processes with `posix_spawn` — never `fork()` in a process that has
/// threads — and with a clean signal state: no signal blocked and every handler at its default.
///
/// Ferry's processes block SIGTERM, SIGINT and SIGTSTP to receive them on a watching thread, and a
/// spawned child inherits both the blocked mask and ignored signals; without this reset a child
/// would never see the SIGTERM meant to stop it.
public enum Spawn {
    /// Where the child's standard output and error go.
    public enum Output: Sendable {
        /// The parent's own.
        case inherit
        /// Both, to a file (created or truncated).
        case file(String)
    }

    /// Starts `arguments[0]` with `arguments` and returns its pid.
    /// - Parameters:
    ///   - environment: the child's whole environment; `nil` passes the parent's.
    ///   - ownProcessGroup: puts the child in a process group of its own, so that a Ctrl-C at the
    ///     terminal (SIGINT to the whole foreground group) does not reach it and its parent decides
    ///     when it stops — for servers that must outlive the processes that use them.
    public static func run(
        _ arguments: [String], environment: [String: String]? = nil, output: Output = .inherit, ownProcessGroup: Bool = false
    ) throws -> pid_t {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        var flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF
        if ownProcessGroup {
            posix_spawnattr_setpgroup(&attributes, 0)
            flags |= POSIX_SPAWN_SETPGROUP
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if case .file(let path) = output {
            posix_spawn_file_actions_addopen(&actions, 1, path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }

        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let envp: [UnsafeMutablePointer<CChar>?]? = environment.map { $0.map { strdup("\($0.key)=\($0.value)") } + [nil] }
        defer { envp?.forEach { free($0) } }
        var pid: pid_t = 0
        let result: Int32
        if var envp {
            result = posix_spawn(&pid, arguments[0], &actions, &attributes, &argv, &envp)
        } else {
            result = posix_spawn(&pid, arguments[0], &actions, &attributes, &argv, environ)
        }
        guard result == 0 else {
            throw SpawnError(program: arguments[0], reason: String(cString: strerror(result)))
        }
        return pid
    }

    /// Decodes a `waitpid` status (Swift does not import WIFEXITED/WEXITSTATUS): the exit code, or
    /// 128 + the signal number for a process killed by a signal.
    public static func exitCode(ofStatus status: Int32) -> Int32 {
        (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    }
}

/// A program could not be started.
public struct SpawnError: Error, Sendable, CustomStringConvertible {
    public var program: String
    public var reason: String
    public var description: String { "cannot start \(program): \(reason)" }
}
