// Package virttest helps tests that need a real libvirtd: it finds the
// daemon (failing when QSCOPE_REQUIRE_LIBVIRT=1 and it is missing,
// skipping otherwise), creates small uniquely named domains that are
// destroyed when the test ends, serialises tests that restart the daemon
// against the tests that use it, and restarts it the way scripts/setup
// starts it.
package virttest
