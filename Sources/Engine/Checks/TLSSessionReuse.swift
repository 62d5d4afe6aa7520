import LookoutCore
import LookoutFFI

/// TLS session resumption for the monitors of one loop that set `tlsSessionReuse`: each such
/// monitor has a curl share of its own holding its sessions (curl keeps only 8 per share, so
/// one share per loop would evict under any real fleet), started over with an empty one when
/// its full handshake is due (`TLSHandshakeSchedule`). Every other transfer rests on
/// `restingShare` with the session cache off (a full handshake every check, as before).
///
/// Confined to the loop thread, like the easies it configures.
final class TLSSessionReuse {
    /// The share every pooled easy of the loop rests on between session-reusing transfers.
    let restingShare = CurlTLSSessionShare()
    private var schedule = TLSHandshakeSchedule<CurlTLSSessionShare>()

    /// Lends `easy` the monitor's sessions for the transfer about to start (a no-op for
    /// monitors without `tlsSessionReuse`).
    func prepare(_ easy: CurlEasy, for prepared: PreparedMonitor, now: Int64) {
        guard prepared.monitor.tlsSessionReuse else { return }
        let (share, _) = schedule.store(
            for: prepared.monitor.id,
            fullHandshakeEverySeconds: prepared.monitor.tlsFullHandshakeSeconds,
            now: now,
            makeStore: CurlTLSSessionShare.init
        )
        easy.useTLSSessions(from: share)
    }

    /// Drops the monitor's sessions (it was removed or handed over, or no longer resumes): a
    /// loop whose monitors come and go keeps a share only for the monitors it checks. A transfer
    /// in flight keeps its share alive until it ends (the easy holds it).
    func forget(monitorId: String) {
        schedule.forget(monitorId)
    }

    /// Monitors whose sessions are kept.
    var monitorCount: Int { schedule.count }
}
