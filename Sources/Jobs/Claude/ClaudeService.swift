public import FerryWorker

/// Anthropic's Messages API (`ANTHROPIC_API_KEY`, optionally `ANTHROPIC_BASE_URL`).
public enum ClaudeService: JobServiceKey {
    public typealias Value = MessagesAPI
    public static let configuration = "ANTHROPIC_API_KEY"
}
