import Foundation

/// The directory embedded servers keep their data, logs and generated secrets in — by default
/// `.ferry/services`, the same layout `ops/services` uses, so either can start the servers and
/// `ops/services env` prints their URLs.
///
/// Closed to other users: the directory is 0700 (0711 when run as root, so that the `postgres`
/// user can pass through to its data directory), `secrets/` is 0700 and every secret 0600.
/// Symbolic links are refused where a file or directory is expected.
package struct DataDirectory: Sendable {
    public let path: String

    public init(path: String) throws(EmbeddedError) {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        try Self.makeDirectory(absolute, mode: getuid() == 0 ? 0o711 : 0o700)
        self.path = absolute
    }

    /// The secret `name` (32 hex digits from the system's random generator), generated on first use.
    public func secret(_ name: String) throws(EmbeddedError) -> String {
        let directory = path + "/secrets"
        try Self.makeDirectory(directory, mode: 0o700)
        let file = directory + "/" + name
        try Self.refuseLink(file)
        if let existing = try? String(contentsOfFile: file, encoding: .utf8), !existing.isEmpty {
            return existing.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        var generator = SystemRandomNumberGenerator()
        let secret = (0..<16).map { _ in String(format: "%02x", UInt8.random(in: .min ... .max, using: &generator)) }.joined()
        // Created 0600 before anything is written to it.
        let descriptor = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0o600)
        guard descriptor >= 0 else { throw .system("cannot write \(file): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        let bytes = Array(secret.utf8)
        guard write(descriptor, bytes, bytes.count) == bytes.count else { throw .system("cannot write \(file)") }
        return secret
    }

    /// Creates `path` (and its parents) if needed and sets its mode; refuses a symbolic link.
    static func makeDirectory(_ path: String, mode: mode_t) throws(EmbeddedError) {
        try refuseLink(path)
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw .system("cannot create \(path): \(error.localizedDescription)")
        }
        guard chmod(path, mode) == 0 else { throw .system("cannot set the mode of \(path): \(String(cString: strerror(errno)))") }
    }

    static func refuseLink(_ path: String) throws(EmbeddedError) {
        var info = stat()
        if lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFLNK {
            throw .unsafePath(path, reason: "is a symbolic link; refusing to keep data or secrets there")
        }
    }
}
