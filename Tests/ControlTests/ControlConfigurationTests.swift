import Foundation
import LookoutCore
import Testing

@testable import LookoutControl

@Suite("lookout-control settings: flags, environment variables, validation")
struct ControlConfigurationTests {
    @Test("a flag wins over its environment variable, which wins over the default")
    func precedence() throws {
        let reader = SettingReader(environment: ["LOOKOUT_PORT": "4000", "LOOKOUT_SMTP_FROM": "ops@example.com"])
        #expect(try reader.integer("--port", "5000") == 5000)
        #expect(try reader.integer("--port", nil) == 4000)
        #expect(try reader.text("--smtp-from", nil) == "ops@example.com")
        #expect(try reader.integer("--bcrypt-cost", nil) == 12)
        #expect(try reader.optional("--jwt-secret", nil) == nil)
    }

    @Test("a bad value names both the flag and the environment variable")
    func errorsNameTheSetting() throws {
        let reader = SettingReader(environment: ["LOOKOUT_PORT": "eighty"])
        #expect(throws: ControlConfigurationError.self) { try reader.integer("--port", nil) }
        do {
            _ = try reader.integer("--port", nil)
        } catch {
            #expect(error.setting == "--port / LOOKOUT_PORT")
            #expect(error.reason.contains("'eighty' (from LOOKOUT_PORT) is not a whole number"))
        }
        #expect(throws: ControlConfigurationError.self) {
            try SettingReader(environment: ["LOOKOUT_BEHIND_HTTPS": "maybe"]).boolean("--behind-https", nil)
        }
        let rollupsOff = SettingReader(environment: ["LOOKOUT_ROLLUPS": "false"])
        #expect(try rollupsOff.boolean("--rollups", nil) == false)
        #expect(try rollupsOff.boolean("--rollups", true) == true)
        #expect(throws: ControlConfigurationError.self) { try reader.required("--database", nil) }
    }

    @Test("validation refuses short JWT secrets, bad secret keys and out-of-range values")
    func validation() throws {
        var configuration = ControlConfiguration(
            databaseURL: "postgres://lookout@127.0.0.1/lookout",
            redis: try RedisEndpoint(url: "redis://127.0.0.1:6379"),
            cluster: try ClusterContract()
        )
        try configuration.validate()
        configuration.auth.jwtSecret = "too-short"
        #expect(throws: ControlConfigurationError.self) { try configuration.validate() }
        configuration.auth.jwtSecret = String(repeating: "x", count: 32)
        try configuration.validate()
        configuration.secretKey = "not-a-key"
        #expect(throws: ControlConfigurationError.self) { try configuration.validate() }
        configuration.secretKey = String(repeating: "ab", count: 32)
        try configuration.validate()
        configuration.auth.bcryptCost = 4
        #expect(throws: ControlConfigurationError.self) { try configuration.validate() }
        configuration.auth.bcryptCost = 10
        configuration.http.corsOrigins = ["example.com"]
        #expect(throws: ControlConfigurationError.self) { try configuration.validate() }
    }

    @Test("every setting has a distinct flag and a LOOKOUT_ environment variable")
    func settingsTable() {
        let flags = ControlSetting.all.map(\.flag)
        let variables = ControlSetting.all.map(\.environment)
        #expect(Set(flags).count == flags.count)
        #expect(Set(variables).count == variables.count)
        #expect(variables.allSatisfy { $0.hasPrefix("LOOKOUT_") })
    }

    @Test("the secret key is read from 64 hex digits or base64 of 32 bytes")
    func secretKeyText() {
        #expect(SecretKeyText.decode(String(repeating: "0f", count: 32)) == [UInt8](repeating: 15, count: 32))
        #expect(
            SecretKeyText.decode(Data(repeating: 7, count: 32).base64EncodedString())
                == [UInt8](repeating: 7, count: 32))
        #expect(SecretKeyText.decode(String(repeating: "0f", count: 31)) == nil)
        #expect(SecretKeyText.decode("zz" + String(repeating: "0f", count: 31)) == nil)
    }

    @Test("database URIs: user, password, port, database, sslmode and options")
    func databaseAddress() throws {
        let address = try DatabaseAddress(
            url: "postgres://lookout:s%40cret@127.0.0.1:25432/lookout?options=-csearch_path%3Dtest_1"
        )
        #expect(address.username == "lookout")
        #expect(address.password == "s@cret")
        #expect(address.port == 25432)
        #expect(address.database == "lookout")
        #expect(address.sslMode == "disable")
        #expect(address.options == "-csearch_path=test_1")
        #expect(throws: ControlConfigurationError.self) { try DatabaseAddress(url: "mysql://x@h/db") }
        #expect(throws: ControlConfigurationError.self) { try DatabaseAddress(url: "postgres://127.0.0.1/db") }
        #expect(throws: ControlConfigurationError.self) {
            try DatabaseAddress(url: "postgres://u@127.0.0.1/db?sslmode=verify-full")
        }
    }
}
