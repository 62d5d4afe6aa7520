import Foundation
import LookoutCore
import LookoutFFI
import LookoutTestSupport
import Testing

@testable import LookoutEngine

/// `RedisConnection` against the real Redis of `scripts/services`.
@Suite("RedisConnection (hiredis on libev)", .enabled(if: RedisTest.shouldRun, RedisTest.skipMessage))
struct RedisConnectionTests {
    @Test("commands and typed replies: status, bulk, integer, nil, array, error; binary-safe; pipelined in order")
    func commandsAndReplies() async throws {
        let endpoint = try RedisTest.endpoint()
        let prefix = RedisTest.uniquePrefix("commands")
        let binary: [UInt8] = [0, 13, 10, 255, 36, 42]
        let replies = Locked<[String: RedisReply]>([:])
        let order = Locked<[Int64]>([])
        let finished = await LoopHarness.run(timeoutSeconds: 5) { loop, control in
            let redis = RedisConnection(
                loop: loop,
                configuration: .init(endpoint: endpoint, clientName: "lookout-test-commands")
            )
            control.keep(redis)
            func record(_ name: String) -> RedisConnection.Completion {
                { result in
                    if case .success(let reply) = result { replies.mutate { $0[name] = reply } }
                }
            }
            redis.onReady = {
                redis.send(["SET", "\(prefix):k", "v"], completion: record("set"))
                redis.send(["GET", "\(prefix):k"], completion: record("get"))
                redis.send(["GET", "\(prefix):missing"], completion: record("nil"))
                redis.send(["INCR", "\(prefix):n"], completion: record("incr"))
                redis.send(["RPUSH", "\(prefix):list", "a", "b", "c"], completion: record("rpush"))
                redis.send(["LRANGE", "\(prefix):list", "0", "-1"], completion: record("lrange"))
                redis.send(["INCR", "\(prefix):list"], completion: record("wrongtype"))
                redis.send([Array("SET".utf8), Array("\(prefix):bin".utf8), binary], completion: record("setbin"))
                redis.send([Array("GET".utf8), Array("\(prefix):bin".utf8)], completion: record("getbin"))
                redis.send(["NOSUCHCOMMAND"], completion: record("unknown"))
                // 500 pipelined INCRs: completions run in order.
                for _ in 0..<500 {
                    redis.send(["INCR", "\(prefix):counter"]) { result in
                        if case .success(.integer(let value)) = result { order.mutate { $0.append(value) } }
                    }
                }
                #expect(redis.pendingCount == 510)
                redis.send([
                    "DEL", "\(prefix):k", "\(prefix):n", "\(prefix):list", "\(prefix):bin", "\(prefix):counter",
                ]) { result in
                    replies.mutate { $0["del"] = try? result.get() }
                    control.finish()
                }
            }
            redis.start()
        }
        #expect(finished)
        let got = replies.value
        #expect(got["set"] == .status("OK"))
        #expect(got["get"] == .string(Array("v".utf8)))
        #expect(got["get"]?.text == "v")
        #expect(got["nil"] == .null)
        #expect(got["incr"] == .integer(1))
        #expect(got["rpush"] == .integer(3))
        #expect(got["lrange"] == .array([.string([97]), .string([98]), .string([99])]))
        guard case .error(let text)? = got["wrongtype"] else {
            Issue.record("INCR on a list: \(String(describing: got["wrongtype"]))")
            return
        }
        #expect(text.hasPrefix("WRONGTYPE"))
        #expect(got["setbin"]?.isOK == true)
        #expect(got["getbin"] == .string(binary))
        if case .error(let unknown)? = got["unknown"] {
            #expect(unknown.contains("unknown command"))
        } else {
            Issue.record("unknown command: \(String(describing: got["unknown"]))")
        }
        #expect(order.value == Array(1...500))
        #expect(got["del"] == .integer(5))
    }

    @Test("pub/sub: messages reach the handler; a subscriber refuses regular commands")
    func publishSubscribe() async throws {
        let endpoint = try RedisTest.endpoint()
        let channel = RedisTest.uniquePrefix("pubsub") + ":channel"
        let received = Locked<[RedisMessage]>([])
        let refused = Locked<RedisError?>(nil)
        let finished = await LoopHarness.run(timeoutSeconds: 5) { loop, control in
            let subscriber = RedisConnection(loop: loop, configuration: .init(endpoint: endpoint))
            let publisher = RedisConnection(loop: loop, configuration: .init(endpoint: endpoint))
            control.keep(subscriber)
            control.keep(publisher)
            subscriber.subscribe([channel]) { message in
                received.mutate { $0.append(message) }
                if received.value.count == 3 { control.finish() }
            }
            subscriber.onReady = {
                subscriber.send(["GET", "x"]) { result in
                    if case .failure(let error) = result { refused.set(error) }
                }
            }
            var publisherReady = false
            var subscribed = false
            func publish() {
                guard publisherReady && subscribed else { return }
                for payload in ["one", "two", "three"] {
                    publisher.send(["PUBLISH", channel, payload], completion: nil)
                }
            }
            subscriber.onSubscribed = { name in
                #expect(name == channel)
                subscribed = true
                publish()
            }
            publisher.onReady = {
                publisherReady = true
                publish()
            }
            subscriber.start()
            publisher.start()
        }
        #expect(finished)
        #expect(received.value.map(\.channel) == [channel, channel, channel])
        #expect(received.value.map { String(decoding: $0.payload, as: UTF8.self) } == ["one", "two", "three"])
        #expect(refused.value?.code == .subscribed)
    }

    @Test("not ready yet: commands fail at once with notConnected; a refused connect reports connectFailed")
    func notConnected() async throws {
        let endpoint = try RedisTest.endpoint()
        // Port 1 on loopback: nothing listens there.
        let nowhere = try RedisEndpoint(host: "127.0.0.1", port: 1)
        let early = Locked<RedisError?>(nil)
        let down = Locked<[RedisError]>([])
        let finished = await LoopHarness.run(timeoutSeconds: 5) { loop, control in
            let redis = RedisConnection(loop: loop, configuration: .init(endpoint: endpoint))
            control.keep(redis)
            redis.start()
            redis.send(["PING"]) { result in
                if case .failure(let error) = result { early.set(error) }
            }
            let refused = RedisConnection(
                loop: loop,
                configuration: .init(endpoint: nowhere, backoff: try! .init(initialSeconds: 0.05, maximumSeconds: 0.05))
            )
            control.keep(refused)
            refused.onDown = { error in
                down.mutate { $0.append(error) }
                if down.value.count == 2 {
                    #expect(refused.state == .waiting)
                    #expect(refused.failedAttempts == 2)
                    control.finish()
                }
            }
            refused.start()
        }
        #expect(finished)
        #expect(early.value?.code == .notConnected)
        #expect(down.value.map(\.code) == [.connectFailed, .connectFailed])
    }

    @Test("a reply later than the command timeout resets the connection, which comes back")
    func commandTimeout() async throws {
        let endpoint = try RedisTest.endpoint()
        let key = RedisTest.uniquePrefix("timeout") + ":never"
        let outcome = Locked<[String]>([])
        let finished = await LoopHarness.run(timeoutSeconds: 6) { loop, control in
            let redis = RedisConnection(
                loop: loop,
                configuration: .init(
                    endpoint: endpoint,
                    commandTimeoutSeconds: 0.3,
                    backoff: try! .init(initialSeconds: 0.05, maximumSeconds: 0.05)
                )
            )
            control.keep(redis)
            redis.onDown = { error in outcome.mutate { $0.append("down:\(error.code)") } }
            redis.onReady = {
                outcome.mutate { $0.append("ready") }
                if redis.connections == 1 {
                    // BLPOP blocks on the server for 2 s: longer than the 0.3 s budget.
                    redis.send(["BLPOP", key, "2"]) { result in
                        if case .failure(let error) = result { outcome.mutate { $0.append("blpop:\(error.code)") } }
                    }
                    redis.send(["PING"]) { result in
                        if case .failure(let error) = result { outcome.mutate { $0.append("ping:\(error.code)") } }
                    }
                } else {
                    redis.send(["PING"]) { result in
                        if case .success(.status("PONG")) = result { outcome.mutate { $0.append("pong") } }
                        control.finish()
                    }
                }
            }
            redis.start()
        }
        #expect(finished)
        #expect(
            outcome.value == [
                "ready", "blpop:command_timeout", "ping:command_timeout", "down:command_timeout", "ready", "pong",
            ]
        )
    }

    @Test("CLIENT KILL from another connection: pending commands fail, the connection comes back by itself")
    func reconnectAfterKill() async throws {
        let endpoint = try RedisTest.endpoint()
        let name = RedisTest.uniquePrefix("kill")
        let outcome = Locked<[String]>([])
        let finished = await LoopHarness.run(timeoutSeconds: 6) { loop, control in
            let victim = RedisConnection(
                loop: loop,
                configuration: .init(endpoint: endpoint, clientName: name, backoff: try! .init(initialSeconds: 0.05))
            )
            let killer = RedisConnection(loop: loop, configuration: .init(endpoint: endpoint))
            control.keep(victim)
            control.keep(killer)
            victim.onDown = { error in outcome.mutate { $0.append("down:\(error.code)") } }
            var killerReady = false
            var victimId: String?
            func kill() {
                guard killerReady, let victimId else { return }
                killer.send(["CLIENT", "KILL", "ID", victimId]) { result in
                    outcome.mutate { $0.append("killed:\((try? result.get()) ?? .null)") }
                }
            }
            killer.onReady = {
                killerReady = true
                kill()
            }
            victim.onReady = {
                outcome.mutate { $0.append("ready") }
                if victim.connections == 1 {
                    victim.send(["CLIENT", "ID"]) { result in
                        if case .success(.integer(let id)) = result { victimId = String(id) }
                        kill()
                    }
                } else {
                    victim.send(["CLIENT", "GETNAME"]) { result in
                        outcome.mutate { $0.append("name:\((try? result.get())?.text ?? "?")") }
                        control.finish()
                    }
                }
            }
            victim.start()
            killer.start()
        }
        #expect(finished)
        // The killer's reply and the victim's end of file race: their order is not defined.
        let seen = outcome.value
        #expect(seen.count == 5)
        #expect(seen.first == "ready")
        #expect(Set(seen.dropFirst().prefix(2)) == ["killed::1", "down:connection_lost"])
        #expect(Array(seen.suffix(2)) == ["ready", "name:\(name)"])
    }
}
