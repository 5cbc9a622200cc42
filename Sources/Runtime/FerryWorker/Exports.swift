// A job author imports FerryWorker alone: definitions, settings, the dispatcher and the job
// envelope come from the queue core.
@_exported public import FerryQueue
