// An app imports Ferry alone to define its families: handlers, definitions, settings, the
// dispatcher and the job envelope come with it (FerryWorker re-exports the queue core).
@_exported public import FerryWorker
