import Foundation

/// A value as JSON writes it; non-finite numbers become null, which JSON can hold.
public enum JSONValue {
    case int(Int)
    case double(Double)
    case string(String)
    case bool(Bool)
    case array([JSONValue])
    /// Keys in the order given, as a person reads them.
    case object([(String, JSONValue)])
    /// Text that is JSON already, such as a Codable value's encoding.
    case encoded(String)

    var json: String {
        switch self {
        case .int(let value): return String(value)
        case .double(let value):
            // As a 32-bit float's shortest exact form: seven digits, and quicker than a format string.
            let single = Float(value)
            return single.isFinite ? single.description : "null"
        case .string(let value): return Self.quoted(value)
        case .bool(let value): return value ? "true" : "false"
        case .array(let values): return "[" + values.map(\.json).joined(separator: ",") + "]"
        case .object(let fields): return "{" + fields.map { Self.quoted($0.0) + ":" + $0.1.json }.joined(separator: ",") + "}"
        case .encoded(let text): return text
        }
    }

    /// A Codable value as JSON, keys sorted.
    public static func encoding<Value: Encodable>(_ value: Value) -> JSONValue {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        guard let data = try? encoder.encode(value) else { return .string("\(value)") }
        return .encoded(String(decoding: data, as: UTF8.self))
    }

    static func quoted(_ value: String) -> String {
        if !value.utf8.contains(where: { $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") || $0 < 0x20 }) {
            return "\"" + value + "\""
        }
        let escaped = value.unicodeScalars.map { scalar -> String in
            switch scalar {
            case "\"": return "\\\""
            case "\\": return "\\\\"
            case _ where scalar.value < 0x20: return String(format: "\\u%04x", scalar.value)
            default: return String(scalar)
            }
        }.joined()
        return "\"\(escaped)\""
    }
}
