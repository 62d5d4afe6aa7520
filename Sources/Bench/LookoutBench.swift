import ArgumentParser

/// `lookout-bench`: the loopback target farm, its authoritative DNS server and the load drivers
/// that measure the engine and the control plane (capacity planning, README "Bench").
///
/// Everything this tool sends goes to loopback addresses only: the farm refuses to listen
/// anywhere else, and the driver points the engine at the farm and the farm's DNS server.
@main
struct LookoutBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lookout-bench",
        abstract: "Target farm, DNS server and load drivers for benchmarking the Lookout engine.",
        subcommands: [
            FarmCommand.self, ThroughputCommand.self, CapacityCommand.self, PlanCommand.self, CompareCommand.self,
            ControlBenchCommand.self, RealtimeBenchCommand.self,
        ]
    )
}
