/// "1 epoch", "3 epochs": a count and its noun, for every line a person reads.
/// `plural` is for nouns that do not just take an s.
public func counted(_ count: Int, _ noun: String, plural: String? = nil) -> String {
    "\(ProgressDisplay.grouped(Double(count))) \(count == 1 ? noun : plural ?? noun + "s")"
}
