import MLP
import Roles
import Wire
import ZMQ

/// A step's answers and their exact total: each accepted answer, in the message it arrived in,
/// added into the Int64 total as it arrives (when one thread does the total), taken out again
/// when its member is lost, and turned into floats once all are in. No sockets: the driver hands
/// it what it accepted and takes back the messages to reuse. Every buffer lives from step to step,
/// so a step allocates nothing here.
struct StepReducer {
    /// An accepted answer: its member, the request it answers (an index into the step's
    /// requests), the message it arrived in and its decoded view.
    typealias Answer = (member: CoordinatorStateMachine.Member, request: Int, message: Message?, view: GradientView)

    /// The grid of the answers' exact sums.
    let format: FixedPointFormat
    /// The step's accepted answers, in the order they came. (An answer from a doorbell has no
    /// message: its meta is decoded, its sums are in the member's slot.)
    private(set) var answers: [Answer] = []
    /// The total as floats, for the optimizer and the logs: valid after `finish`.
    private(set) var gradientSum: [Float]
    /// The answers' int64 total; the first `folded` answers are in it.
    private var exactSum: [Int64]
    private var folded = 0
    /// Where each answer's sums lie and their widths, for the total.
    private var sources: [UnsafeRawPointer?] = []
    private var widths: [Int32] = []
    /// The threads a large total is split among, from `start` to `stop`.
    private var team = ParameterTeam(threads: 1)

    init(parameterCount: Int, format: FixedPointFormat) {
        self.format = format
        gradientSum = [Float](repeating: 0, count: parameterCount)
        exactSum = [Int64](repeating: 0, count: parameterCount)
    }

    /// Clips the total as `--clip-norm` asks (`clipByGlobalNorm`), after `finish`.
    mutating func clip(sampleCount: Int, maxNorm: Float) {
        gradientSum.withUnsafeMutableBufferPointer { _ = clipByGlobalNorm($0, sampleCount: sampleCount, maxNorm: maxNorm) }
    }

    /// Threads for large totals, until `stop`.
    mutating func start(team: ParameterTeam) { self.team = team }
    func stop() { team.stop() }

    /// Whether a total of `answers` answers is split among the team's threads: from a million
    /// values on; below, waking the others costs more than it saves: two workers' answers of
    /// 784-128-10 were reduced more slowly by two threads than by one (docs/performance.md,
    /// "Launch against train").
    func splits(answers: Int) -> Bool { answers * gradientSum.count >= 1 << 20 }

    /// An answer the machine accepted; added into the total at once when one thread does the
    /// total (`expectedAnswers`: the step's requests), so that after the last only its own add
    /// and the conversion remain, and so that an answer is in the total before any later message
    /// of its member (a goodbye) can void it.
    mutating func accept(_ answer: Answer, expectedAnswers: Int) {
        answers.append(answer)
        // No sums to add in a run with parameter servers: the answer's figures alone come here.
        guard !gradientSum.isEmpty, !splits(answers: expectedAnswers) else { return }
        exactSum.withUnsafeMutableBufferPointer { sums in
            while folded < answers.count {
                let view = answers[folded].view
                FixedPointSum.fold(view.sums.baseAddress!, width: view.valueBytes, first: folded == 0, into: sums)
                folded += 1
            }
        }
    }

    /// Member `id` was lost: its answers are void. Hands back their messages; says whether one
    /// had been added into the total (which is then made anew from the answers that stay), or
    /// nil when it had answered nothing.
    mutating func void(memberID id: UInt32, recycle: (Message) -> Void) -> Bool? {
        guard let index = answers.firstIndex(where: { $0.member.id == id }) else { return nil }
        let added = index < folded
        if added { folded = 0 }
        for answer in answers where answer.member.id == id { if let message = answer.message { recycle(message) } }
        answers.removeAll { $0.member.id == id }
        return added
    }

    /// The step is over: unless it was abandoned, the answers' total as floats into
    /// `gradientSum`, each of the team's threads over its range of the parameters (one thread for
    /// a small total). Then the answers' messages are handed back and a new step can begin.
    mutating func finish(abandoned: Bool, recycle: (Message) -> Void) {
        if !abandoned, !gradientSum.isEmpty { total() }   // before the messages the sums lie in go back
        for answer in answers { if let message = answer.message { recycle(message) } }
        answers.removeAll(keepingCapacity: true)
        folded = 0
    }

    private mutating func total() {
        sources.removeAll(keepingCapacity: true)
        widths.removeAll(keepingCapacity: true)
        for answer in answers {
            sources.append(answer.view.sums.baseAddress)
            widths.append(Int32(answer.view.valueBytes))
        }
        let format = format, folded = folded, split = splits(answers: sources.count), team = team
        sources.withUnsafeBufferPointer { sources in
            widths.withUnsafeBufferPointer { widths in
                exactSum.withUnsafeMutableBufferPointer { total in
                    gradientSum.withUnsafeMutableBufferPointer { out in
                        let sums = total, floats = out
                        // A closure literal passed straight on: a closure kept in a variable would be allocated every step.
                        team.run(count: floats.count, split: split) { range in
                            FixedPointSum.total(of: sources, widths: widths, folded: folded, range: range, format: format, sums: sums, into: floats)
                        }
                    }
                }
            }
        }
    }
}
