/// The one rule for showing a URL in a log line or an error: every secret it may carry is
/// replaced by `***` — the password of its user info (the user name stays, it helps), and the
/// values of query parameters that name a secret (`password`, `pass`, `token`, `secret`, `key`,
/// `api_key`, `access_token`, `sig`, `signature`, …, any case).
public enum URLRedaction {
    static let secretParameters: Set<String> = [
        "password", "pass", "passwd", "pwd", "token", "secret", "key", "api_key", "apikey", "access_token",
        "auth", "sig", "signature", "x-amz-signature", "x-amz-credential", "x-amz-security-token", "sslpassword",
    ]

    /// Whether a parameter or field called `name` holds a secret (`password`, `api_key`, …, any case).
    public static func isSecretName(_ name: some StringProtocol) -> Bool {
        secretParameters.contains(name.lowercased())
    }

    public static func redact(_ url: String) -> String {
        var text = Substring(url)
        var out = ""
        // User info: scheme://user:password@host → scheme://user:***@host
        if let schemeEnd = text.firstRange(of: "://") {
            out += text[..<schemeEnd.upperBound]
            text = text[schemeEnd.upperBound...]
            let authorityEnd = text.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? text.endIndex
            if let at = text[..<authorityEnd].lastIndex(of: "@") {
                let userInfo = text[..<at]
                if let colon = userInfo.firstIndex(of: ":") {
                    out += userInfo[..<colon] + ":***"
                } else {
                    out += userInfo
                }
                text = text[at...]
            }
        }
        // Query: name=value pairs whose name is a secret's.
        guard let question = text.firstIndex(of: "?") else { return out + text }
        out += text[...question]
        let query = text[text.index(after: question)...]
        let fragmentStart = query.firstIndex(of: "#") ?? query.endIndex
        let pairs = query[..<fragmentStart].split(separator: "&", omittingEmptySubsequences: false).map { pair -> String in
            guard let equals = pair.firstIndex(of: "=") else { return String(pair) }
            let name = pair[..<equals].lowercased()
            return secretParameters.contains(name) ? pair[...equals] + "***" : String(pair)
        }
        return out + pairs.joined(separator: "&") + query[fragmentStart...]
    }
}
