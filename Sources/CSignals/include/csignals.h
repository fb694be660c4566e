#ifndef DPTRAIN_CSIGNALS_H
#define DPTRAIN_CSIGNALS_H

// A worker or coordinator asked to stop (SIGTERM, SIGINT) finishes the step in
// hand and stops cleanly; the handler only sets a flag, which is all a handler
// may do. A second signal of the same kind stops the process at once.

/// Installs the handler for SIGTERM and SIGINT.
void dptrain_catch_stop_signals(void);

/// The signal that asked this process to stop, or 0.
int dptrain_stop_requested(void);

// A coordinator re-reads its --authorized-keys folder on SIGHUP, as sshd and nginx
// re-read their configuration: the handler only counts, and the ZAP handler's thread
// notices the count change.

/// Installs the handler for SIGHUP (whose default would end the process).
void dptrain_catch_hangups(void);

/// SIGHUPs received since the handler was installed.
int dptrain_hangups(void);

#endif
