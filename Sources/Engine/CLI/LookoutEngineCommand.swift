import ArgumentParser

/// `lookout-engine`: the check engine. Running checks is the default subcommand, so
/// `lookout-engine --monitors FILE ...` and `lookout-engine run --monitors FILE ...` are the same.
@main
struct LookoutEngineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lookout-engine",
        abstract: "Lookout check engine: thousands of HTTP(S) checks in flight on libev + curl multi + c-ares.",
        // migrate / import: the database side (Persistence/, docs/DATABASE.md).
        subcommands: [RunCommand.self, MigrateCommand.self, ImportCommand.self],
        defaultSubcommand: RunCommand.self
    )
}
