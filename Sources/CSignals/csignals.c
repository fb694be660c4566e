#include "csignals.h"

#include <signal.h>
#include <string.h>

static volatile sig_atomic_t requested = 0;

static void remember(int signal_number) {
    requested = signal_number;
    // The first signal asks for a clean stop; the next one stops at once.
    signal(signal_number, SIG_DFL);
}

void dptrain_catch_stop_signals(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = remember;
    sigemptyset(&action.sa_mask);
    // No SA_RESTART: a blocking poll returns at once, and the process notices.
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGINT, &action, NULL);
}

int dptrain_stop_requested(void) { return requested; }

static volatile sig_atomic_t hangups = 0;

static void count_hangup(int signal_number) { (void)signal_number; hangups += 1; }

void dptrain_catch_hangups(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = count_hangup;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    sigaction(SIGHUP, &action, NULL);
}

int dptrain_hangups(void) { return hangups; }
