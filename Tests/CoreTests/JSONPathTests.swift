import Foundation
import Testing

@testable import LookoutCore

private func document(_ json: String) throws -> Any {
    try JSONSerialization.jsonObject(with: Data(json.utf8), options: [.fragmentsAllowed])
}

@Suite("JSONPath")
struct JSONPathTests {
    @Test(
        "parses dotted names, quoted names and indexes into steps",
        arguments: [
            ("$", [JSONPath.Step]()),
            ("$.status", [.key("status")]),
            ("$.a.b[0].c", [.key("a"), .key("b"), .index(0), .key("c")]),
            ("$.checks[12]", [.key("checks"), .index(12)]),
            ("$[0][1]", [.index(0), .index(1)]),
            (#"$["a b"]"#, [.key("a b")]),
            ("$['x.y']", [.key("x.y")]),
            (#"$["a"].b"#, [.key("a"), .key("b")]),
            (#"$[""]"#, [.key("")]),
            ("$.a-b_c", [.key("a-b_c")]),
            ("$.0", [.key("0")]),
        ]
    )
    func parses(text: String, steps: [JSONPath.Step]) throws {
        #expect(try JSONPath(text).steps == steps)
    }

    @Test(
        "refuses malformed paths with a reason",
        arguments: [
            ("", "must start with '$' (for example $.status)"),
            ("status", "must start with '$' (for example $.status)"),
            (".status", "must start with '$' (for example $.status)"),
            ("$.", "empty name after '.'"),
            ("$..a", "empty name after '.'"),
            ("$.a.", "empty name after '.'"),
            ("$[0", "missing ']'"),
            ("$[", "missing ']'"),
            ("$[-1]", "'[-1]' must be a non-negative index or a quoted name"),
            ("$[]", "'[]' must be a non-negative index or a quoted name"),
            ("$[abc]", "'[abc]' must be a non-negative index or a quoted name"),
            (#"$["abc']"#, #"'["abc']' must be a non-negative index or a quoted name"#),
            (#"$["]"#, #"'["]' must be a non-negative index or a quoted name"#),
            ("$a", "unexpected 'a'; use .name or [index]"),
            ("$[0]x", "unexpected 'x'; use .name or [index]"),
        ]
    )
    func refusesMalformed(text: String, reason: String) {
        #expect(throws: JSONPath.ParseError.self) { try JSONPath(text) }
        do {
            _ = try JSONPath(text)
        } catch {
            #expect(error.description == reason)
        }
    }

    @Test(
        "renders the value at the path as text",
        arguments: [
            ("$.status", "ok"),
            ("$.count", "3"),
            ("$.negative", "-42"),
            ("$.ratio", "0.25"),
            ("$.whole", "2"),
            ("$.big", "1e+20"),
            ("$.up", "true"),
            ("$.down", "false"),
            ("$.nothing", "null"),
            ("$.text_true", "true"),
            ("$.checks[0].name", "db"),
            ("$.checks[1].ok", "false"),
            ("$['odd key']", "yes"),
            ("$.nested", #"{"a":[1,2],"b":"c"}"#),
            ("$.checks[0]", #"{"name":"db","ok":true}"#),
            ("$.list", "[1,2,3]"),
            ("$.empty", ""),
        ]
    )
    func rendersValues(path: String, expected: String) throws {
        let json = """
            {"status":"ok","count":3,"negative":-42,"ratio":0.25,"whole":2.0,"big":1e20,"up":true,"down":false,
             "nothing":null,"text_true":"true","checks":[{"name":"db","ok":true},{"name":"cache","ok":false}],
             "odd key":"yes","nested":{"b":"c","a":[1,2]},"list":[1,2,3],"empty":""}
            """
        #expect(try JSONPath(path).textValue(in: try document(json)) == expected)
    }

    @Test(
        "is nil when the path is absent or walks through the wrong kind of value",
        arguments: [
            "$.missing", "$.checks[2]", "$.checks[0].missing", "$.status.length", "$.status[0]", "$[0]",
            "$.checks.name",
        ]
    )
    func absentPaths(path: String) throws {
        let json = #"{"status":"ok","checks":[{"name":"db"}]}"#
        #expect(try JSONPath(path).textValue(in: try document(json)) == nil)
    }

    @Test("$ is the whole document, also for top-level scalars")
    func rootPath() throws {
        let root = try JSONPath("$")
        #expect(root.textValue(in: try document(#""ok""#)) == "ok")
        #expect(root.textValue(in: try document("7")) == "7")
        #expect(root.textValue(in: try document("true")) == "true")
        #expect(root.textValue(in: try document("[true,null]")) == "[true,null]")
    }

    @Test("numbers 0 and 1 are rendered as numbers, not booleans")
    func zeroAndOneAreNumbers() throws {
        let json = #"{"zero":0,"one":1,"f":false,"t":true}"#
        #expect(try JSONPath("$.zero").textValue(in: try document(json)) == "0")
        #expect(try JSONPath("$.one").textValue(in: try document(json)) == "1")
        #expect(try JSONPath("$.f").textValue(in: try document(json)) == "false")
        #expect(try JSONPath("$.t").textValue(in: try document(json)) == "true")
    }
}
