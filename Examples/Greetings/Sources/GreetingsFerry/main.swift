import Ferry
import FerryJobs
import GreetingsJobs

// The whole `ferry` command, with this app's family and Ferry's built-in test jobs.
FerryCommand.main(families: [BuiltinFamily(), GreetingsFamily()])
