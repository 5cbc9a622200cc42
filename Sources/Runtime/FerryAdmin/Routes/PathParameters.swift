import FerryQueue
import Foundation
import Hummingbird

/// The parameters of routes' paths, checked the same way by the API and the dashboard.
enum PathParameters {
    /// `{id}`: a job (or batch) id, 1 to 200 characters, percent-decoded.
    static func jobID(_ context: BasicRequestContext) throws -> String {
        let raw = context.parameters.get("id")
        guard let id = raw?.removingPercentEncoding ?? raw, !id.isEmpty, id.unicodeScalars.count <= 200 else {
            throw AdminError.badRequest("missing job id (1 to 200 characters, percent-encoded in the path)")
        }
        return id
    }

    /// `{queue}`: a queue name, checked as every queue name is.
    static func queue(_ context: BasicRequestContext) throws -> String {
        let raw = context.parameters.get("queue") ?? ""
        let name = raw.removingPercentEncoding ?? raw
        do {
            try Names.validateQueue(name)
        } catch {
            throw AdminError.badRequest("\(error)")
        }
        return name
    }
}
