import FerryProcess
import FerryPostgres
import Foundation
public import Logging

/// Starts PostgreSQL for `ferry up`: initialized on first start with a generated password for
/// the role `ferry` (scram-sha-256), bound to 127.0.0.1, with the databases `ferry` and
/// `ferry_test`. Run as the `postgres` user when Ferry runs as root (PostgreSQL refuses root),
/// with its data in a directory that user can reach.
package enum EmbeddedPostgres {
    static let role = "ferry"

    /// Starts PostgreSQL on `port` (or finds the one already running there with this directory's
    /// password) and returns it once it answers, with the database `ferry` created.
    public static func start(in data: DataDirectory, port: Int, logger: Logger) throws(EmbeddedError) -> EmbeddedServer {
        let password = try rolePassword(in: data)
        let url = "postgres://\(role):\(password)@127.0.0.1:\(port)/ferry"
        let maintenance = "postgres://\(role):\(password)@127.0.0.1:\(port)/postgres"
        if answers(maintenance) {
            logger.info("using the PostgreSQL already running on 127.0.0.1:\(port)")
            try createDatabases(maintenance)
            return EmbeddedServer(name: "PostgreSQL", url: url, process: nil, stopSignal: SIGINT, logger: logger)
        }
        let binaries = try binaryDirectory()
        let owner = try Owner.current()
        let cluster = try clusterDirectory(in: data, owner: owner)
        if !FileManager.default.fileExists(atPath: cluster + "/PG_VERSION") {
            logger.info("initializing PostgreSQL in \(cluster)")
            try initialize(cluster, binaries: binaries, owner: owner, password: password, log: data.path + "/initdb.log")
        }
        let process: ChildProcess
        do {
            process = try ChildProcess(
                // SIGINT is PostgreSQL's fast shutdown: it does not wait for clients that may be gone too.
                owner.command + EmbeddedServer.parentDeath("INT") + [binaries + "/postgres", "-D", cluster, "-p", "\(port)", "-c", "listen_addresses=127.0.0.1", "-k", cluster,
                                 "-c", "max_connections=200"],
                logPath: data.path + "/postgres.log", ownProcessGroup: true
            )
        } catch {
            throw .system("cannot start PostgreSQL: \(error)")
        }
        try EmbeddedServer.wait(for: "PostgreSQL", process: process, timeout: .seconds(60)) { answers(maintenance) }
        try createDatabases(maintenance)
        logger.info("embedded PostgreSQL listening on postgres://\(role):***@127.0.0.1:\(port)/ferry (data in \(cluster))")
        return EmbeddedServer(name: "PostgreSQL", url: url, process: process, stopSignal: SIGINT, logger: logger)
    }

    /// The password of the role `ferry`: generated — except for a data directory `ops/services`
    /// made before passwords were generated, which keeps the one it was made with (`ferry`).
    static func rolePassword(in data: DataDirectory) throws(EmbeddedError) -> String {
        let remembered = data.path + "/postgres.path"
        if !FileManager.default.fileExists(atPath: data.path + "/secrets/postgres.password"),
           let cluster = try? String(contentsOfFile: remembered, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines),
           FileManager.default.fileExists(atPath: cluster + "/PG_VERSION") {
            return "ferry"
        }
        return try data.secret("postgres.password")
    }

    /// The user the server runs as: this one, or `postgres` for root.
    struct Owner {
        let uid: uid_t
        let gid: gid_t
        /// Prefix that runs a program as the owner (`setpriv` execs it directly, so signals reach it).
        let command: [String]

        static func current() throws(EmbeddedError) -> Owner {
            guard getuid() == 0 else { return Owner(uid: getuid(), gid: getgid(), command: []) }
            guard let entry = getpwnam("postgres") else {
                throw .system("running as root, PostgreSQL needs a `postgres` user to run as; install PostgreSQL with ops/setup or create one")
            }
            return Owner(uid: entry.pointee.pw_uid, gid: entry.pointee.pw_gid, command: [
                "/usr/bin/setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--",
            ])
        }

        /// Runs `arguments` as the owner and returns its exit status.
        func run(_ arguments: [String], log: String) throws(EmbeddedError) -> Int32 {
            do {
                let process = try ChildProcess(command + arguments, logPath: log)
                return process.waitForExit(timeout: 300) ?? -1
            } catch {
                throw .system("cannot run \(arguments[0]): \(error)")
            }
        }

        func own(_ path: String) throws(EmbeddedError) {
            guard getuid() == 0 else { return }
            guard chown(path, uid, gid) == 0 else { throw .system("cannot hand \(path) to the postgres user: \(String(cString: strerror(errno)))") }
        }
    }

    static func binaryDirectory() throws(EmbeddedError) -> String {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init).sorted()
        guard let newest = versions.last, FileManager.default.isExecutableFile(atPath: "\(root)/\(newest)/bin/postgres") else {
            throw .notInstalled("PostgreSQL (\(root)/<version>/bin/postgres)")
        }
        return "\(root)/\(newest)/bin"
    }

    /// `<data>/postgres`, or — when the owner cannot reach it (a parent such as /root is closed to
    /// the postgres user) — a new directory from mkdtemp; remembered in `<data>/postgres.path`.
    static func clusterDirectory(in data: DataDirectory, owner: Owner) throws(EmbeddedError) -> String {
        let remembered = data.path + "/postgres.path"
        if let path = try? String(contentsOfFile: remembered, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines), !path.isEmpty {
            return path
        }
        var cluster = data.path + "/postgres"
        try DataDirectory.makeDirectory(cluster, mode: 0o700)
        try owner.own(cluster)
        if getuid() == 0, try owner.run(["/usr/bin/test", "-w", cluster], log: "/dev/null") != 0 {
            rmdir(cluster)
            var template = Array((NSTemporaryDirectory() + "ferry-postgres.XXXXXXXXXX").utf8CString)
            guard mkdtemp(&template) != nil else { throw .system("cannot create a directory for PostgreSQL's data") }
            cluster = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            try owner.own(cluster)
        }
        guard FileManager.default.createFile(atPath: remembered, contents: Data((cluster + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
            throw .system("cannot write \(remembered)")
        }
        return cluster
    }

    static func initialize(_ cluster: String, binaries: String, owner: Owner, password: String, log: String) throws(EmbeddedError) {
        var template = Array((NSTemporaryDirectory() + "ferry-pw.XXXXXXXXXX").utf8CString)
        let descriptor = mkstemp(&template)
        guard descriptor >= 0 else { throw .system("cannot create a temporary password file") }
        let passwordFile = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        defer { unlink(passwordFile) }
        let bytes = Array((password + "\n").utf8)
        let written = write(descriptor, bytes, bytes.count)
        close(descriptor)
        guard written == bytes.count else { throw .system("cannot write a temporary password file") }
        try owner.own(passwordFile)
        let status = try owner.run([
            binaries + "/initdb", "-D", cluster, "-U", role, "--pwfile=\(passwordFile)", "--auth=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8",
        ], log: log)
        guard status == 0 else { throw .system("initdb failed (status \(status)); see \(log)") }
    }

    static func createDatabases(_ maintenanceURL: String) throws(EmbeddedError) {
        do {
            let connection = try PostgresConnection(configuration: try PostgresConfiguration(url: maintenanceURL))
            for database in ["ferry", "ferry_test"] {
                let exists = try connection.query("SELECT 1 FROM pg_database WHERE datname = $1", [database]).first != nil
                // The names are constants of this file; CREATE DATABASE takes no parameters.
                if !exists { _ = try connection.query(database == "ferry" ? "CREATE DATABASE ferry" : "CREATE DATABASE ferry_test") }
            }
        } catch {
            throw .system("cannot create the databases in the embedded PostgreSQL: \(error)")
        }
    }

    static func answers(_ url: String) -> Bool {
        guard var configuration = try? PostgresConfiguration(url: url) else { return false }
        configuration.connectTimeout = .seconds(1)
        configuration.reconnectWindow = .zero
        return (try? PostgresConnection(configuration: configuration).query("SELECT 1")) != nil
    }
}
