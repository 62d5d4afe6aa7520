import Foundation
import LookoutCore
import Testing

@testable import LookoutControl

@Suite("Incident policy: which state changes count and what is notified")
struct IncidentPolicyTests {
    let policy = IncidentPolicy(configuration: .init(flapThreshold: 5, flapWindowSeconds: 1_800))
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func input(
        held: MonitorState,
        to: MonitorState,
        heldAt: Date? = nil,
        flapping: Bool = false,
        recent: Int = 0,
        maintenance: Bool = false
    ) -> IncidentPolicy.Input {
        IncidentPolicy.Input(
            held: held,
            heldAt: heldAt,
            flapping: flapping,
            to: to,
            at: now,
            recentChanges: recent,
            inMaintenance: maintenance
        )
    }

    @Test("UP to DOWN and back are notified changes")
    func plainChanges() {
        #expect(policy.decide(input(held: .up, to: .down)).notification == .stateChange)
        #expect(policy.decide(input(held: .down, to: .up)).notification == .stateChange)
        #expect(policy.decide(input(held: .up, to: .down)).effective)
    }

    @Test("a re-confirmation of the held state changes nothing (shard hand-over)")
    func reconfirmation() {
        let decision = policy.decide(input(held: .down, to: .down))
        #expect(!decision.effective)
        #expect(decision.notification == .none)
    }

    @Test("an event older than the held state is stale and ignored")
    func stale() {
        let decision = policy.decide(input(held: .down, to: .up, heldAt: now.addingTimeInterval(5)))
        #expect(!decision.effective)
    }

    @Test("a new monitor's first UP is not news; its first DOWN is")
    func firstConfirmation() {
        let up = policy.decide(input(held: .unknown, to: .up))
        #expect(up.effective)
        #expect(up.notification == .none)
        #expect(policy.decide(input(held: .unknown, to: .down)).notification == .stateChange)
    }

    @Test("inside a maintenance window a change is recorded, not notified")
    func maintenance() {
        let decision = policy.decide(input(held: .up, to: .down, maintenance: true))
        #expect(decision.effective)
        #expect(decision.notification == .none)
        #expect(decision.suppressedBy == .maintenance)
    }

    @Test("the fifth change within the window sends one flapping message, later ones nothing")
    func flapping() {
        let fourth = policy.decide(input(held: .up, to: .down, recent: 3))
        #expect(fourth.notification == .stateChange)
        #expect(!fourth.flapping)
        let fifth = policy.decide(input(held: .down, to: .up, recent: 4))
        #expect(fifth.notification == .flappingStarted)
        #expect(fifth.flapping)
        #expect(fifth.suppressedBy == .flapping)
        let sixth = policy.decide(input(held: .up, to: .down, flapping: true, recent: 5))
        #expect(sixth.notification == .none)
        #expect(sixth.suppressedBy == .flapping)
        #expect(sixth.effective)
    }

    @Test("the threshold is configurable")
    func configurableThreshold() {
        let strict = IncidentPolicy(configuration: .init(flapThreshold: 2, flapWindowSeconds: 60))
        #expect(strict.decide(input(held: .up, to: .down, recent: 1)).notification == .flappingStarted)
    }
}
