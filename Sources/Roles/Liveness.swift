/// Every timing rule of the protocol's liveness, in one place, as zguide's
/// Paranoid Pirate keeps HEARTBEAT_LIVENESS and INTERVAL_MAX at the top of one
/// file. Times are nanoseconds of a monotonic clock that the drivers read and
/// pass in; the roles never read a clock themselves.
public enum Liveness {
    public static let nanosecondsPerSecond: UInt64 = 1_000_000_000

    /// Between heartbeats: the coordinator to each worker, and a quiet worker to its coordinator.
    public static let heartbeatInterval: UInt64 = 1_000_000_000
    /// While a step waits, how often the workers it still waits for are probed: a probe to a
    /// closed connection fails at once, so a dead worker is found in tens of milliseconds.
    public static let probeInterval: UInt64 = 25_000_000
    /// Probes go out only in the first second of a step's wait; after that the heartbeats do.
    /// A live worker busy with a long step does not read its socket, and probes every 25 ms
    /// to it would fill its queue (1,000 messages) and have it taken for dead before its deadline.
    public static let probeWindow: UInt64 = 1_000_000_000
    /// How long a step waits for a worker's gradient, and a member may stay silent, unless
    /// `--step-deadline` says otherwise.
    public static let defaultStepDeadlineSeconds = 5.0
    /// A worker's patience with a silent coordinator before it rejoins; the welcome may ask for more.
    public static let defaultCoordinatorSilence: UInt64 = 5_000_000_000
    /// A worker's hellos back off from the first to the last interval, doubling.
    public static let firstHelloBackoff: UInt64 = 100_000_000
    public static let lastHelloBackoff: UInt64 = 2_000_000_000
    /// A worker still looking for its coordinator says why a second after it began (a mistake is
    /// reported within two seconds), then this often.
    public static let firstWaitingExplanation: UInt64 = 1_000_000_000
    public static let waitingExplanationInterval: UInt64 = 3_000_000_000
    /// A stranger speaking for another run is told so at most this often.
    public static let otherRunNoticeInterval: UInt64 = 1_000_000_000
    /// At the end, the shutdown is sent again this often to workers that have not acknowledged it,
    public static let shutdownResendInterval: UInt64 = 200_000_000
    /// for at most this long.
    public static let shutdownLinger: UInt64 = 5_000_000_000

    /// A resumed coordinator waits for the workers it was started for no longer than this after
    /// the first is back: the time its other live workers need to notice the restart (the next
    /// heartbeat, or their silence timeout, the step deadline if longer) and say hello through
    /// their backoff. Then it goes on with those it has; any later one joins at a step boundary.
    public static func resumeGatherWait(stepDeadline: UInt64) -> UInt64 {
        max(defaultCoordinatorSilence, stepDeadline) + lastHelloBackoff
    }

    /// A key (or, without keys, a host) whose member was lost for silence, a missed deadline or an
    /// impossible answer is refused this long after its first such loss, four times longer after
    /// each further one, up to `longestRejoinBackoff`. A member that stalls a step costs the run one
    /// step deadline each time it is admitted; backing off 20 s, then 80 s, ... keeps a member that
    /// stalls again and again to at most 2 deadlines a minute (at the default 5 s, 83% of the steps'
    /// time left to the others), while an honest worker lost once is back within 20 s.
    public static let firstRejoinBackoff: UInt64 = 20_000_000_000
    public static let longestRejoinBackoff: UInt64 = 3_600_000_000_000
    public static func rejoinBackoff(losses: Int) -> UInt64 {
        precondition(losses >= 1)
        let factor = UInt64(1) << UInt64(2 * min(losses - 1, 10))
        return min(firstRejoinBackoff.multipliedReportingOverflow(by: factor).partialValue, longestRejoinBackoff)
    }
    /// A member back after such a loss is on probation: once the others have answered a step, it
    /// is waited for as long again as they took, and at least this long, not the step deadline.
    public static let probationGrace: UInt64 = 1_000_000_000
    /// The most workers welcomed and not yet taking part at once: more hellos are told to try later,
    /// so a flood of hellos costs no more than this many welcomes until they are lost as silent.
    public static let mostJoining = 16

    public static func nanoseconds(_ seconds: Double) -> UInt64 { UInt64(max(seconds, 0) * 1e9) }
    public static func seconds(_ nanoseconds: UInt64) -> Double { Double(nanoseconds) / 1e9 }
}
