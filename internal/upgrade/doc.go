// Package upgrade replaces the running slardar binary with a new one without
// closing a listening socket and without failing a request.
//
// The serving process (the parent) starts the binary found at its own
// executable path with the same arguments and environment, and hands it
// duplicates of its listening sockets through os/exec ExtraFiles plus the
// write end of a readiness pipe. The new process (the child) rebuilds its
// listeners from the inherited descriptors, starts serving, and writes a
// token into the pipe. Only then does the parent report success and close
// its Exit channel, so its caller stops accepting and drains. Until that
// moment both processes accept from the very same kernel accept queue, so a
// connection is never refused or reset. SO_REUSEPORT is deliberately not
// used: on Linux each reuseport socket has its own queue, and connections
// queued on the old process's socket are lost when it closes.
//
// A child that exits, crashes or is not ready within Options.ReadyTimeout is
// killed and reaped; the parent keeps serving and may try again later. The
// child can upgrade in turn, so upgrades chain.
//
// The package also keeps the optional PID file pointing at the serving
// process and, under systemd, sends sd_notify messages (READY=1,
// RELOADING=1, MAINPID=<successor>) so Type=notify units follow the hand-off
// (the unit needs NotifyAccess=all for the successor's own messages).
//
// What the package owns: the inherited and handed-off descriptors, the
// readiness pipe, the child process until it is ready, the PID file, and the
// sd_notify messages. What it must not do: serve, drain or close the
// caller's listeners (the caller's servers own them once Listen returns),
// install signal handlers, or decide when to upgrade; cmd/slardar does
// these. It works on Unix-like systems only (descriptor passing and Fstat).
package upgrade
