public import FerryHTTP
public import FerryPostgres
public import FerryWorker

/// The PostgreSQL pool jobs share (`DATABASE_URL`).
public enum PostgresService: JobServiceKey {
    public typealias Value = PostgresConnectionPool
    public static let configuration = "DATABASE_URL"
}

/// The SMTP client jobs share (`SMTP_URL`).
public enum SMTPService: JobServiceKey {
    public typealias Value = SMTPClient
    public static let configuration = "SMTP_URL"
}

/// The HTTP client jobs share (always available).
public enum HTTPService: JobServiceKey {
    public typealias Value = FerryHTTPClient
    public static let configuration = "nothing (the HTTP client needs no configuration)"
}
