import Ferry
import FerryJobs

// The `ferry` command with every job family Ferry ships.
FerryCommand.main(families: JobCatalog.families)
