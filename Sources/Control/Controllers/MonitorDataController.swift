import Foundation
import Hummingbird

/// What a monitor produced: `GET /monitors/{id}/checks` (raw checks, newest first, by cursor),
/// `/metrics` (rollups of one bucket size) and `/uptime` (24 h, 7, 30 and 90 days, from the
/// rollups). A stranger's monitor answers 404.
struct MonitorDataController: Sendable {
    let data: MonitorDataRepository

    /// The range of `/checks` without `from`: the last 24 hours.
    static let defaultCheckSpan: TimeInterval = 86_400

    func addRoutes(to group: RouterGroup<ControlRequestContext>) {
        group.get("monitors/{id}/checks", use: checks)
        group.get("monitors/{id}/metrics", use: metrics)
        group.get("monitors/{id}/uptime", use: uptime)
    }

    /// `?from=&to=&status=UP,DOWN&limit=&cursor=`: `status` is one status or a comma-separated list.
    @Sendable func checks(_ request: Request, context: ControlRequestContext) async throws -> WrittenPage<CheckRecord> {
        let identity = try context.requireIdentity()
        let id = try PathID.parse(context, "id")
        let query = request.queryParameters
        let range = try TimeRange.parse(request, now: Date(), defaultSpan: Self.defaultCheckSpan)
        let statuses = try Self.statuses(query.get("status"))
        guard
            let page = try await data.checks(
                ownerId: identity.userId,
                monitorId: id,
                range: range,
                statuses: statuses,
                after: try TimeKeyCursor.decode(query.get("cursor")),
                limit: try PageLimit.parse(request)
            )
        else { throw APIError.notFound("monitor") }
        return WrittenPage(data: page.checks, nextCursor: page.next?.encoded)
    }

    /// `?bucket=minute|hour|day&from=&to=`: `bucket` defaults to `hour`; the range to the bucket's
    /// `defaultSpan`, and may cover at most `RollupBucket.maximumBuckets` buckets.
    @Sendable func metrics(_ request: Request, context: ControlRequestContext) async throws -> MetricSeries {
        let identity = try context.requireIdentity()
        let id = try PathID.parse(context, "id")
        let bucketName = request.queryParameters.get("bucket") ?? RollupBucket.hour.rawValue
        guard let bucket = RollupBucket(rawValue: bucketName) else {
            throw APIError.validation("bucket must be minute, hour or day", field: "bucket")
        }
        let range = try TimeRange.parse(
            request,
            now: Date(),
            defaultSpan: bucket.defaultSpan,
            maximumSpan: bucket.maximumSpan
        )
        guard let points = try await data.metrics(ownerId: identity.userId, monitorId: id, bucket: bucket, range: range)
        else { throw APIError.notFound("monitor") }
        return MetricSeries(monitorId: id, bucket: bucket.rawValue, from: range.from, to: range.to, data: points)
    }

    @Sendable func uptime(_ request: Request, context: ControlRequestContext) async throws -> UptimeSummary {
        let identity = try context.requireIdentity()
        let id = try PathID.parse(context, "id")
        guard let summary = try await data.uptime(ownerId: identity.userId, monitorId: id, at: Date()) else {
            throw APIError.notFound("monitor")
        }
        return summary
    }

    /// `UP`, `down,timeout` ... → the statuses, upper-cased; absent → all four.
    static func statuses(_ text: String?) throws(APIError) -> [String] {
        guard let text else { return MonitorDataRepository.checkStatuses }
        var statuses: [String] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let status = part.trimmingCharacters(in: .whitespaces).uppercased()
            guard MonitorDataRepository.checkStatuses.contains(status) else {
                throw APIError.validation(
                    "status must be UP, DOWN, TIMEOUT or ERROR, or a comma-separated list",
                    field: "status"
                )
            }
            if !statuses.contains(status) { statuses.append(status) }
        }
        return statuses
    }
}
