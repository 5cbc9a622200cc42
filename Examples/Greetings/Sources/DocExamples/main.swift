// The Swift blocks of docs/writing-jobs.md, built and run by ops/doc_examples.py: the blocks that
// declare types are in Extracted.swift (generated from the Markdown, not in git) and registered
// here; the blocks of statements are methods of `DocScope`, run one at a time by
// `doc-examples snippet NAME`. Everything else is a `ferry` command with the docs' family.
import Ferry
import Foundation

let arguments = CommandLine.arguments
if arguments.count == 3, arguments[1] == "snippet" {
    do {
        try DocScope.fromEnvironment().run(arguments[2])
        exit(0)
    } catch {
        FileHandle.standardError.write(Data("doc-examples snippet \(arguments[2]): \(error)\n".utf8))
        exit(1)
    }
}
FerryCommand.main(families: [DocsFamily()])
