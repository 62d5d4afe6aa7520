import Foundation

/// The Redis names and message formats that engines and the control plane share. A contract:
/// names and fields may be added, never renamed or removed.
///
/// Every name starts with `prefix` (default `lookout`), so several clusters — or several tests —
/// can share one Redis without touching each other's keys. With the default prefix:
///
/// | Name                           | Type    | Written by    | Content                                             |
/// |--------------------------------|---------|---------------|-----------------------------------------------------|
/// | `lookout:engine:<engineId>`    | string  | engine        | `EngineRecord` JSON, `PX` = lease (expires if the engine dies) |
/// | `lookout:engines`              | zset    | engine        | member = engine id, score = lease expiry (epoch ms, Redis clock) |
/// | `lookout:engines:active-from`  | hash    | engine        | engine id → epoch ms (Redis clock) from which its shards are its own (agreed hand-over) |
/// | `lookout:engines:leaving-at`   | hash    | engine        | engine id → epoch ms (Redis clock) at which a stopping engine's shards pass to the others |
/// | `lookout:monitors:changed`     | pub/sub | control plane | `MonitorChange` JSON (one object or an array)        |
/// | `lookout:checks:live`          | pub/sub | engine        | JSON array of check results (the results-file objects); read by every control plane for live updates |
/// | `lookout:incidents:live`       | pub/sub | control plane | `LiveStateUpdate` JSON, after each commit that applied a confirmed state change (incident opened or resolved) |
/// | `lookout:checks:requested`     | pub/sub | control plane | `CheckRequest` JSON (one object or an array)         |
/// | `lookout:events:state`         | stream  | engine        | `StateChangeEvent` fields, `MAXLEN ~ 100000`         |
/// | group `lookout-control` on `lookout:events:state` | consumer group | control plane | one consumer per instance (its instance id) |
/// | `lookout:ratelimit:<budget>`   | string  | control plane | one rate-limit budget's theoretical arrival time (GCRA, epoch ms), expires when idle |
///
/// Shards: every monitor belongs to one of `shardCount` (1024) shards, stored with it
/// (`monitors.shard`, computed once by `MonitorShard`); engines split the shards among
/// themselves by rendezvous hashing over the live members of `lookout:engines` (the engine's
/// `ShardAssignment`, weights `stableHash("<engineId>:<shard>")`), so the control plane never
/// assigns monitors to engines: it only says which monitor changed and in which shard.
public struct ClusterContract: Sendable, Equatable {
    /// Number of shards (`MonitorShard.count`, 1024). Fixed: changing it moves every monitor.
    public static let shardCount = MonitorShard.count
    /// Approximate cap of the state stream (`XADD ... MAXLEN ~ 100000`).
    public static let stateStreamMaxLength = 100_000
    /// The production prefix.
    public static let defaultPrefix = "lookout"

    /// First component of every key and channel name.
    public let prefix: String

    /// - Parameter prefix: 1...64 characters of `A-Z a-z 0-9 . _ - :`. Default `lookout`.
    public init(prefix: String = ClusterContract.defaultPrefix) throws(ClusterContractError) {
        guard (1...64).contains(prefix.utf8.count), prefix.utf8.allSatisfy({ Self.isNameByte($0) || $0 == 0x3A })
        else {
            throw ClusterContractError("Redis key prefix '\(prefix)' must be 1 to 64 characters of A-Z a-z 0-9 . _ - :")
        }
        self.prefix = prefix
    }

    /// The engine's registration: `<prefix>:engine:<engineId>` (a string key with the lease as TTL).
    public func engineKey(_ engineId: String) -> String { "\(prefix):engine:\(engineId)" }
    /// Sorted set of live engines: member = engine id, score = lease expiry in epoch ms on the
    /// Redis server's clock (`TIME`). Members whose score is in the past are dead.
    public var enginesKey: String { "\(prefix):engines" }
    /// Hash of engine id → epoch ms on the Redis clock from which the engine's shards are its
    /// own: its first registration + the hand-over delay (2/3 of its lease), or that
    /// registration itself when no other engine was live or it registered again after a
    /// reconnect. Every engine reads the same instant, so the old owner of a shard checks until
    /// it and the new owner from it. Entries of dead engines are deleted with their lease.
    public var enginesActiveFromKey: String { "\(prefix):engines:active-from" }
    /// Hash of engine id → epoch ms on the Redis clock at which a stopping engine's shards pass
    /// to the others: its leave request + the hand-over delay. It keeps checking until then.
    public var enginesLeavingAtKey: String { "\(prefix):engines:leaving-at" }
    /// Pub/sub channel the control plane publishes `MonitorChange` messages on.
    public var monitorsChangedChannel: String { "\(prefix):monitors:changed" }
    /// Pub/sub channel engines publish batches of live results on.
    public var liveChannel: String { "\(prefix):checks:live" }
    /// Pub/sub channel the incident consumer publishes a `LiveStateUpdate` on after each commit
    /// that applied a confirmed state change (opening or resolving an incident), so that every
    /// control plane can push it to its WebSocket clients.
    public var incidentsLiveChannel: String { "\(prefix):incidents:live" }
    /// Pub/sub channel the control plane publishes `CheckRequest` messages on ("check now"):
    /// the engine that owns the monitor's shard checks it at once.
    public var checkRequestedChannel: String { "\(prefix):checks:requested" }
    /// Stream of confirmed monitor state changes, read by the control plane with a consumer group.
    public var stateStream: String { "\(prefix):events:state" }
    /// The consumer group the control planes read the state stream with (each instance is one
    /// consumer of it, named by its instance id), so each entry is handled by one of them.
    public static let stateConsumerGroup = "lookout-control"
    /// The state of one rate-limit budget (`login:ip:127.0.0.1`, `token:key:7` ...), shared by
    /// every control plane: its theoretical arrival time in epoch ms (GCRA).
    public func rateLimitKey(_ budget: String) -> String { "\(prefix):ratelimit:\(budget)" }

    /// 64-bit FNV-1a of the UTF-8 bytes, finished with the SplitMix64 mixer (FNV-1a alone has
    /// weak low bits for similar strings): the rendezvous weights. Stable across processes,
    /// machines and versions.
    public static func stableHash(_ text: String) -> UInt64 {
        mix(FNV1a64.hash(text))
    }

    /// The SplitMix64 finaliser.
    @inline(__always)
    public static func mix(_ value: UInt64) -> UInt64 { SplitMix64.mix(value) }

    /// Engine ids appear inside key names: 1...64 characters of `A-Z a-z 0-9 . _ -` (no `:`).
    public static func validateEngineId(_ engineId: String) throws(ClusterContractError) {
        guard (1...64).contains(engineId.utf8.count), engineId.utf8.allSatisfy(isNameByte) else {
            throw ClusterContractError("engine id '\(engineId)' must be 1 to 64 characters of A-Z a-z 0-9 . _ -")
        }
    }

    /// A valid engine id made of a host name and a process id, e.g. `web-3-4711`.
    public static func defaultEngineId(host: String, pid: Int32) -> String {
        let cleaned = String(
            decoding: host.utf8.map { isNameByte($0) ? $0 : UInt8(ascii: "-") }.prefix(48),
            as: UTF8.self
        )
        return "\(cleaned.isEmpty ? "engine" : cleaned)-\(pid)"
    }

    private static func isNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }
}

/// A name or message that does not follow the cluster contract.
public struct ClusterContractError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong, for a person.
    public var description: String
    /// Wraps a sentence.
    public init(_ description: String) { self.description = description }
}

// MARK: - Monitor changes (control plane -> engines)

/// A monitor was created, changed, paused or deleted: published by the control plane on
/// `<prefix>:monitors:changed` after the database transaction committed.
///
/// Payload: one JSON object, or a JSON array of them (bulk imports):
/// ```json
/// {"monitorId": "42", "shard": 617, "op": "upsert"}
/// ```
/// - `monitorId`: the monitor's database id (`monitors.id`), a JSON integer or its decimal text
///   (read as text either way).
/// - `shard`: 0...1023, the monitor's `monitors.shard`.
/// - `op`: `upsert` (created or changed: reload it from the database), `delete` (stop checking
///   it), `pause` (stop checking it, keep it). Resuming a paused monitor is an `upsert`.
///
/// Pub/sub is fire-and-forget: engines also reconcile with the database periodically and after
/// every reconnect of their subscription, so a lost message delays a change, never loses it.
public struct MonitorChange: Sendable, Equatable, Hashable {
    /// What happened to the monitor.
    public enum Operation: String, Sendable, CaseIterable {
        /// Created or changed (or resumed): load the current definition from the database.
        case upsert
        /// Deleted: stop checking it.
        case delete
        /// Paused: stop checking it until the next `upsert`.
        case pause
    }

    /// The monitor's id.
    public var monitorId: String
    /// The monitor's shard, 0..<1024.
    public var shard: Int
    /// What happened.
    public var operation: Operation

    /// A change of one monitor.
    public init(monitorId: String, shard: Int, operation: Operation) {
        self.monitorId = monitorId
        self.shard = shard
        self.operation = operation
    }

    /// The JSON object for this change (what the control plane publishes).
    public var json: String {
        "{\"monitorId\":\(JSONString.quoted(monitorId)),\"shard\":\(shard),\"op\":\"\(operation.rawValue)\"}"
    }

    /// Reads a message payload: one object or an array of objects. Throws on the first bad one.
    public static func parse(_ payload: [UInt8]) throws(ClusterContractError) -> [MonitorChange] {
        let data = Data(payload)
        let isArray =
            payload.first(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D }) == UInt8(ascii: "[")
        do {
            if isArray {
                return try JSONDecoder().decode([Wire].self, from: data).map(\.change)
            }
            return [try JSONDecoder().decode(Wire.self, from: data).change]
        } catch let error as ClusterContractError {
            throw error
        } catch {
            throw ClusterContractError(
                "monitor change must be {\"monitorId\": string or integer, \"shard\": 0...\(ClusterContract.shardCount - 1), \"op\": \"upsert\"|\"delete\"|\"pause\"}"
            )
        }
    }

    /// The wire form; `monitorId` may be a JSON string or integer.
    private struct Wire: Decodable {
        var change: MonitorChange

        enum CodingKeys: String, CodingKey {
            case monitorId, shard, op
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            let monitorId: String
            if let text = try? container.decode(String.self, forKey: .monitorId) {
                monitorId = text
            } else {
                monitorId = String(try container.decode(Int64.self, forKey: .monitorId))
            }
            let shard = try container.decode(Int.self, forKey: .shard)
            let op = try container.decode(String.self, forKey: .op)
            guard !monitorId.isEmpty, (0..<ClusterContract.shardCount).contains(shard),
                let operation = Operation(rawValue: op)
            else {
                throw ClusterContractError(
                    "monitor change has an empty monitorId, a shard out of range or an unknown op"
                )
            }
            change = MonitorChange(monitorId: monitorId, shard: shard, operation: operation)
        }
    }
}

// MARK: - Check requests (control plane -> engines)

/// "Check now": published by the control plane on `<prefix>:checks:requested` when a user asks
/// for a monitor to be checked at once (`POST /api/v1/monitors/{id}/check`).
///
/// Payload: one JSON object, or a JSON array of them:
/// ```json
/// {"monitorId": "42", "shard": 617, "requestId": "3f2c9a1e-8d4b-4f7a-9c1e-2b5d6e7f8a90"}
/// ```
/// - `monitorId`: the monitor's database id (`monitors.id`), a JSON integer or its decimal text
///   (read as text either way, in canonical decimal form: `"007"` is monitor `7`).
/// - `shard`: 0...1023, the monitor's `monitors.shard`: only the engine owning it acts.
/// - `requestId`: chosen by the caller, 1 to 64 characters (Unicode scalars), no control
///   characters; engines echo it in their logs so a request can be followed across processes.
///
/// Other fields are ignored (the contract may add some).
///
/// What the owning engine does: it checks the monitor at once, off its schedule (the regular
/// checks keep their times), and the result flows like any other (`checks`, the live channel,
/// the state stream). A monitor with a check in flight is not checked twice: that check answers
/// the request, and so does an earlier request still waiting for a free slot. A monitor the
/// engine has not loaded yet (created a moment ago) is read from the database first. Paused,
/// deleted or unknown monitors are not checked (the engine logs the request id).
///
/// Pub/sub is fire-and-forget: a request published while no engine owns the shard (a takeover
/// in progress, Redis away) is lost; the monitor's next scheduled check still happens.
public struct CheckRequest: Sendable, Equatable, Hashable {
    /// Longest `requestId`, in Unicode scalars.
    public static let maximumRequestIdLength = 64

    /// The monitor's database id, decimal.
    public var monitorId: String
    /// The monitor's shard, 0..<1024.
    public var shard: Int
    /// The caller's id for this request (echoed in logs).
    public var requestId: String

    /// A request to check one monitor now.
    public init(monitorId: String, shard: Int, requestId: String) {
        self.monitorId = monitorId
        self.shard = shard
        self.requestId = requestId
    }

    /// The JSON object for this request (what the control plane publishes).
    public var json: String {
        "{\"monitorId\":\(JSONString.quoted(monitorId)),\"shard\":\(shard),\"requestId\":\(JSONString.quoted(requestId))}"
    }

    /// Reads a message payload: one object or an array of objects. Throws on the first bad one,
    /// with a message that names the field.
    public static func parse(_ payload: [UInt8]) throws(ClusterContractError) -> [CheckRequest] {
        let data = Data(payload)
        let isArray =
            payload.first(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D }) == UInt8(ascii: "[")
        do {
            if isArray {
                return try JSONDecoder().decode([Wire].self, from: data).map(\.request)
            }
            return [try JSONDecoder().decode(Wire.self, from: data).request]
        } catch let error as ClusterContractError {
            throw error
        } catch {
            throw ClusterContractError(
                "check request must be {\"monitorId\": integer or decimal string, \"shard\": 0...\(ClusterContract.shardCount - 1), \"requestId\": string of 1 to \(maximumRequestIdLength) characters} or an array of them"
            )
        }
    }

    /// The canonical decimal text of a positive 64-bit id given as digits, or nil.
    static func canonicalId(_ text: String) -> String? {
        guard !text.isEmpty, text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
            let value = Int64(text), value > 0
        else { return nil }
        return String(value)
    }

    /// Whether `requestId` may appear in a message (and so in a log line).
    static func isValidRequestId(_ requestId: String) -> Bool {
        (1...maximumRequestIdLength).contains(requestId.unicodeScalars.count)
            && requestId.unicodeScalars.allSatisfy { !($0.value < 0x20 || (0x7F...0x9F).contains($0.value)) }
    }

    /// The wire form; `monitorId` may be a JSON string or integer.
    private struct Wire: Decodable {
        var request: CheckRequest

        enum CodingKeys: String, CodingKey {
            case monitorId, shard, requestId
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            let rawId: String
            if let text = try? container.decode(String.self, forKey: .monitorId) {
                rawId = text
            } else if let number = try? container.decode(Int64.self, forKey: .monitorId) {
                rawId = String(number)
            } else {
                throw ClusterContractError(
                    "check request needs a monitorId: the monitor's database id, as an integer or decimal string"
                )
            }
            guard let monitorId = CheckRequest.canonicalId(rawId) else {
                throw ClusterContractError(
                    "check request monitorId \(JSONString.quoted(String(rawId.prefix(40)))) is not a database id (a positive decimal integer)"
                )
            }
            guard let shard = try? container.decode(Int.self, forKey: .shard),
                (0..<ClusterContract.shardCount).contains(shard)
            else {
                throw ClusterContractError(
                    "check request for monitor \(monitorId) needs a shard: an integer 0...\(ClusterContract.shardCount - 1) (monitors.shard)"
                )
            }
            guard let requestId = try? container.decode(String.self, forKey: .requestId),
                CheckRequest.isValidRequestId(requestId)
            else {
                throw ClusterContractError(
                    "check request for monitor \(monitorId) needs a requestId: a string of 1 to \(CheckRequest.maximumRequestIdLength) characters without control characters"
                )
            }
            request = CheckRequest(monitorId: monitorId, shard: shard, requestId: requestId)
        }
    }
}

// MARK: - Engine registration

/// The value of `<prefix>:engine:<engineId>`, rewritten at every heartbeat with `PX <leaseMs>`:
/// ```json
/// {"engineId":"web-3-4711","host":"web-3","pid":4711,"startedAt":"2026-11-29T14:21:46.123Z",
///  "leaseMs":10000,"ownedShards":512,"version":"0.1.0"}
/// ```
/// For people and dashboards; membership itself is the `<prefix>:engines` sorted set.
public struct EngineRecord: Sendable, Equatable {
    /// The engine's id (also the member name in `<prefix>:engines`).
    public var engineId: String
    /// Host name of the machine the engine runs on.
    public var host: String
    /// Process id on that host.
    public var pid: Int32
    /// When the engine process started, epoch milliseconds (RFC 3339 in JSON).
    public var startedAtMs: Int64
    /// Lease length: the engine is dead once it has not renewed its lease for this long.
    public var leaseMs: Int
    /// Shards the engine owned at this heartbeat.
    public var ownedShards: Int
    /// Engine software version.
    public var version: String

    /// A registration record.
    public init(
        engineId: String,
        host: String,
        pid: Int32,
        startedAtMs: Int64,
        leaseMs: Int,
        ownedShards: Int,
        version: String
    ) {
        self.engineId = engineId
        self.host = host
        self.pid = pid
        self.startedAtMs = startedAtMs
        self.leaseMs = leaseMs
        self.ownedShards = ownedShards
        self.version = version
    }

    /// The JSON text stored in Redis.
    public var json: String {
        "{\"engineId\":\(JSONString.quoted(engineId)),\"host\":\(JSONString.quoted(host)),\"pid\":\(pid),"
            + "\"startedAt\":\"\(RFC3339.string(epochMilliseconds: startedAtMs))\",\"leaseMs\":\(leaseMs),"
            + "\"ownedShards\":\(ownedShards),\"version\":\(JSONString.quoted(version))}"
    }
}

// MARK: - Live results (engines -> control plane)

/// Encodes a batch of results for `PUBLISH <prefix>:checks:live`: a JSON array whose elements
/// are exactly the objects of the results file, written by the same `ResultLineEncoder`:
/// `monitorId`, `checkedAt`, `status`, `httpStatus`, `dnsMs`, `connectMs`, `tlsMs`, `ttfbMs`,
/// `totalMs`, `lagMs`, `redirects`, `errorCode`, `errorMessage`, `certExpiresAt`, `httpVersion`,
/// `tlsResumed`, and for the checks that have them `tlsIssuer`, `tlsProtocol`, `tlsCipher`
/// (`tls` checks) and `dnsAnswers` (`dns` checks). The control plane copies each object's
/// members unchanged into `check:update`. Best effort: live results are dropped (and counted)
/// when Redis is away; PostgreSQL has every result.
public struct LiveResultsEncoder {
    private var lines = ResultLineEncoder(reservingCapacity: 16 * 1024)

    /// An encoder with a reusable buffer.
    public init() {}

    /// The message for `results`: `[{...},{...}]`.
    public mutating func encode(_ results: ArraySlice<CheckResult>) -> [UInt8] {
        lines.removeAll()
        for result in results { lines.append(result) }
        var message: [UInt8] = []
        message.reserveCapacity(lines.bytes.count + 2)
        message.append(UInt8(ascii: "["))
        // Each record ends with "\n" and no record contains a raw newline (strings are escaped):
        // the newlines become the separators.
        for byte in lines.bytes { message.append(byte == UInt8(ascii: "\n") ? UInt8(ascii: ",") : byte) }
        if message.count > 1 { message.removeLast() }
        message.append(UInt8(ascii: "]"))
        return message
    }
}

// MARK: - State changes (engines -> control plane)

/// A monitor's confirmed state. `unknown` until the engine has confirmed one.
public enum MonitorState: String, Sendable, CaseIterable, CustomStringConvertible {
    /// Not yet confirmed (a new monitor, or an engine that just took it over without a seed).
    case unknown = "UNKNOWN"
    /// Healthy: the recovery threshold of consecutive UP checks was reached.
    case up = "UP"
    /// Failing: the failure threshold of consecutive non-UP checks was reached.
    case down = "DOWN"

    /// The wire spelling: `UNKNOWN`, `UP`, `DOWN`.
    public var description: String { rawValue }
}

/// A confirmed state change of one monitor, appended by the owning engine to the stream
/// `<prefix>:events:state` with `XADD <stream> MAXLEN ~ 100000 * <fields>`. Every field value
/// is a string:
///
/// | Field       | Meaning                                                                  |
/// |-------------|--------------------------------------------------------------------------|
/// | `monitorId` | the monitor (`monitors.id` in decimal in cluster mode)                   |
/// | `from`      | `UNKNOWN`, `UP` or `DOWN`                                                |
/// | `to`        | `UP` or `DOWN`                                                           |
/// | `at`        | `checkedAt` of the confirming check, RFC 3339 UTC with milliseconds      |
/// | `checkId`   | id of the confirming check (as written to `checks`)                      |
/// | `engineId`  | the engine that confirmed it                                             |
/// | `reason`    | the confirming check's `errorCode` for `DOWN` (`timeout`, `status_mismatch` ...), `up` for `UP` |
/// | `message`   | the confirming check's `errorMessage` (empty for `UP`)                   |
///
/// Delivery is at least once: an engine re-sends an entry whose `XADD` reply it did not see, and
/// an engine taking over a shard may confirm the same state again. Consumers de-duplicate on
/// (`monitorId`, `checkId`) and ignore a change whose `from` is not the state they hold or whose
/// `at` is older than the last one applied.
public struct StateChangeEvent: Sendable, Equatable {
    /// The monitor.
    public var monitorId: String
    /// State before the change.
    public var from: MonitorState
    /// State after the change.
    public var to: MonitorState
    /// `checkedAt` of the confirming check, epoch milliseconds.
    public var atMs: Int64
    /// The confirming check's id.
    public var checkId: String
    /// The engine that saw it.
    public var engineId: String
    /// `errorCode` of the confirming check, or `up` for a recovery.
    public var reason: String
    /// `errorMessage` of the confirming check, empty for a recovery.
    public var message: String

    /// A state change.
    public init(
        monitorId: String,
        from: MonitorState,
        to: MonitorState,
        atMs: Int64,
        checkId: String,
        engineId: String,
        reason: String,
        message: String = ""
    ) {
        self.monitorId = monitorId
        self.from = from
        self.to = to
        self.atMs = atMs
        self.checkId = checkId
        self.engineId = engineId
        self.reason = reason
        self.message = message
    }

    /// The stream entry's field/value pairs, in the documented order.
    public var streamFields: [(String, String)] {
        [
            ("monitorId", monitorId), ("from", from.rawValue), ("to", to.rawValue),
            ("at", RFC3339.string(epochMilliseconds: atMs)), ("checkId", checkId), ("engineId", engineId),
            ("reason", reason), ("message", message),
        ]
    }

    /// Reads a stream entry (what the control plane's consumer does). nil when a field is
    /// missing or malformed; unknown extra fields are ignored.
    public init?(streamFields fields: [String: String]) {
        guard let monitorId = fields["monitorId"], let from = fields["from"].flatMap(MonitorState.init(rawValue:)),
            let to = fields["to"].flatMap(MonitorState.init(rawValue:)), let at = fields["at"],
            let atMs = RFC3339.parseEpochMilliseconds(at), let checkId = fields["checkId"],
            let engineId = fields["engineId"], let reason = fields["reason"]
        else { return nil }
        self.init(
            monitorId: monitorId,
            from: from,
            to: to,
            atMs: atMs,
            checkId: checkId,
            engineId: engineId,
            reason: reason,
            message: fields["message"] ?? ""
        )
    }
}

// MARK: - Live state updates (control plane -> control planes)

/// A confirmed state change the incident consumer has committed, published on
/// `<prefix>:incidents:live` right after the commit so that every control plane can push it to
/// its WebSocket clients (`check:update` status transitions, `incident:update`). Pub/sub is
/// fire-and-forget: a client that missed one reads the incident through the API.
///
/// Payload, one JSON object:
/// ```json
/// {"monitorId":42,"ownerId":7,"monitorName":"Payments API","from":"UP","to":"DOWN",
///  "at":"2025-01-02T03:04:05.678Z",
///  "incident":{"incidentId":9,"event":"opened","startedAt":"2025-01-02T03:04:04.678Z","resolvedAt":null,
///              "durationSeconds":null,"causeStatus":"ERROR","causeCode":"connect_refused",
///              "causeMessage":"connection refused"}}
/// ```
/// - `monitorId`, `ownerId`: database ids (JSON integers); `monitorName`: the monitor's name.
/// - `from`, `to`: the confirmed states (`UNKNOWN`, `UP`, `DOWN`); `at`: `checkedAt` of the
///   confirming check, RFC 3339 UTC with milliseconds.
/// - `incident`: the incident the change opened (`to` = `DOWN`) or resolved (`to` = `UP`), or
///   null when it did neither (a first confirmation as `UP`). `resolvedAt` and
///   `durationSeconds` are null while it is open; the cause fields may be null.
///
/// Other fields are ignored (the contract may add some).
public struct LiveStateUpdate: Sendable, Equatable {
    /// An incident opened or resolved by the change.
    public struct Incident: Sendable, Equatable {
        /// What happened to the incident.
        public enum Event: String, Sendable, CaseIterable {
            /// The monitor went DOWN: the incident started.
            case opened
            /// The monitor came back UP: the incident ended.
            case resolved
        }

        /// `incidents.id`.
        public var incidentId: Int64
        /// Opened or resolved.
        public var event: Event
        /// Start of the incident (the first failed check of the streak), epoch milliseconds.
        public var startedAtMs: Int64
        /// End of the incident, epoch milliseconds; nil while open.
        public var resolvedAtMs: Int64?
        /// `resolvedAt - startedAt` in seconds; nil while open.
        public var durationSeconds: Double?
        /// Status of the failing check (`DOWN`, `TIMEOUT`, `ERROR`).
        public var causeStatus: String?
        /// Error code of the failing check (`timeout`, `status_mismatch` ...).
        public var causeCode: String?
        /// Error message of the failing check.
        public var causeMessage: String?

        /// An incident event.
        public init(
            incidentId: Int64, event: Event, startedAtMs: Int64, resolvedAtMs: Int64? = nil,
            durationSeconds: Double? = nil, causeStatus: String? = nil, causeCode: String? = nil,
            causeMessage: String? = nil
        ) {
            self.incidentId = incidentId
            self.event = event
            self.startedAtMs = startedAtMs
            self.resolvedAtMs = resolvedAtMs
            self.durationSeconds = durationSeconds
            self.causeStatus = causeStatus
            self.causeCode = causeCode
            self.causeMessage = causeMessage
        }
    }

    /// The monitor (`monitors.id`).
    public var monitorId: Int64
    /// Its owner (`monitors.owner_id`): the `user:<id>` room.
    public var ownerId: Int64
    /// Its name.
    public var monitorName: String
    /// Confirmed state before the change.
    public var from: MonitorState
    /// Confirmed state after the change.
    public var to: MonitorState
    /// `checkedAt` of the confirming check, epoch milliseconds.
    public var atMs: Int64
    /// The incident opened or resolved, if any.
    public var incident: Incident?

    /// A state update.
    public init(
        monitorId: Int64, ownerId: Int64, monitorName: String, from: MonitorState, to: MonitorState, atMs: Int64,
        incident: Incident?
    ) {
        self.monitorId = monitorId
        self.ownerId = ownerId
        self.monitorName = monitorName
        self.from = from
        self.to = to
        self.atMs = atMs
        self.incident = incident
    }

    /// The JSON object published.
    public var json: String {
        var text =
            "{\"monitorId\":\(monitorId),\"ownerId\":\(ownerId),\"monitorName\":\(JSONString.quoted(monitorName)),"
            + "\"from\":\"\(from.rawValue)\",\"to\":\"\(to.rawValue)\",\"at\":\"\(RFC3339.string(epochMilliseconds: atMs))\","
            + "\"incident\":"
        if let incident {
            text += "{\"incidentId\":\(incident.incidentId),\"event\":\"\(incident.event.rawValue)\","
            text += "\"startedAt\":\"\(RFC3339.string(epochMilliseconds: incident.startedAtMs))\",\"resolvedAt\":"
            text += incident.resolvedAtMs.map { "\"\(RFC3339.string(epochMilliseconds: $0))\"" } ?? "null"
            text += ",\"durationSeconds\":" + (incident.durationSeconds.map { Self.number($0) } ?? "null")
            text += ",\"causeStatus\":" + (incident.causeStatus.map(JSONString.quoted) ?? "null")
            text += ",\"causeCode\":" + (incident.causeCode.map(JSONString.quoted) ?? "null")
            text += ",\"causeMessage\":" + (incident.causeMessage.map(JSONString.quoted) ?? "null") + "}"
        } else {
            text += "null"
        }
        return text + "}"
    }

    /// Reads a message payload; throws with a message that names what is wrong.
    public static func parse(_ payload: [UInt8]) throws(ClusterContractError) -> LiveStateUpdate {
        do {
            return try JSONDecoder().decode(Wire.self, from: Data(payload)).update
        } catch let error as ClusterContractError {
            throw error
        } catch {
            throw ClusterContractError(
                "live state update must be {\"monitorId\": integer, \"ownerId\": integer, \"monitorName\": string, \"from\": state, \"to\": state, \"at\": RFC 3339, \"incident\": object or null}"
            )
        }
    }

    /// Seconds with millisecond precision, as JSON (`12.345`).
    public static func number(_ value: Double) -> String {
        value.isFinite ? String(format: "%.3f", value) : "null"
    }

    private struct Wire: Decodable {
        var update: LiveStateUpdate

        enum CodingKeys: String, CodingKey {
            case monitorId, ownerId, monitorName, from, to, at, incident
        }

        struct IncidentWire: Decodable {
            var incidentId: Int64
            var event: String
            var startedAt: String
            var resolvedAt: String?
            var durationSeconds: Double?
            var causeStatus: String?
            var causeCode: String?
            var causeMessage: String?
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            let at = try container.decode(String.self, forKey: .at)
            guard let from = MonitorState(rawValue: try container.decode(String.self, forKey: .from)),
                let to = MonitorState(rawValue: try container.decode(String.self, forKey: .to)),
                let atMs = RFC3339.parseEpochMilliseconds(at)
            else {
                throw ClusterContractError("live state update has an unknown state or a malformed `at`")
            }
            var incident: Incident?
            if let wire = try container.decodeIfPresent(IncidentWire.self, forKey: .incident) {
                guard let event = Incident.Event(rawValue: wire.event),
                    let startedAtMs = RFC3339.parseEpochMilliseconds(wire.startedAt)
                else {
                    throw ClusterContractError(
                        "live state update's incident has an unknown event or a malformed startedAt")
                }
                incident = Incident(
                    incidentId: wire.incidentId,
                    event: event,
                    startedAtMs: startedAtMs,
                    resolvedAtMs: wire.resolvedAt.flatMap(RFC3339.parseEpochMilliseconds),
                    durationSeconds: wire.durationSeconds,
                    causeStatus: wire.causeStatus,
                    causeCode: wire.causeCode,
                    causeMessage: wire.causeMessage
                )
            }
            update = LiveStateUpdate(
                monitorId: try container.decode(Int64.self, forKey: .monitorId),
                ownerId: try container.decode(Int64.self, forKey: .ownerId),
                monitorName: try container.decode(String.self, forKey: .monitorName),
                from: from,
                to: to,
                atMs: atMs,
                incident: incident
            )
        }
    }
}
