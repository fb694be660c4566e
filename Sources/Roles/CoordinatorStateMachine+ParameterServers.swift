/// Parameter servers: the weights live on them, so the coordinator can go back only to a state it
/// fetched from them (at an epoch's end, at a checkpoint, at the start). When a server is lost,
/// its range's weights are gone with it: the step in flight is abandoned and the run goes back to
/// the newest such state, from where every member trains the same chunks again.
extension CoordinatorStateMachine {
    /// The driver holds the servers' state after `step` steps (weights, optimizer, the run's
    /// account): the course there is kept to go back to, in place of any older one.
    public mutating func keepServersSnapshot() {
        snapshotCourses = [step: course]
    }

    /// A parameter server was lost: the step in flight is abandoned and the run goes back to the
    /// newest state kept by `keepServersSnapshot`; returns its step (nil with none, or outside training).
    public mutating func parameterServerLost() -> UInt64? {
        guard phase == .training, let target = snapshotCourses.keys.max() else { return nil }
        if target == step, !stepInFlight { return target }
        rollBack(to: target)
        return target
    }
}
