/// "1 epoch", "3 epochs": a count and its noun, for every line a person reads.
/// `plural` is for nouns that do not just take an s.
public func counted(_ count: Int, _ noun: String, plural: String? = nil) -> String {
    "\(grouped(Double(count))) \(count == 1 ? noun : plural ?? noun + "s")"
}

/// 123456.7 -> "123,457"
public func grouped(_ value: Double) -> String {
    guard value.isFinite else { return "-" }
    let digits = String(Int(value.rounded()))
    var out = ""
    for (i, c) in digits.reversed().enumerated() {
        if i > 0 && i % 3 == 0 { out.append(",") }
        out.append(c)
    }
    return String(out.reversed())
}
