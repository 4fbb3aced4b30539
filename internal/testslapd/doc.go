// Package testslapd starts a real OpenLDAP slapd (Debian's slapd package)
// for tests: on free 127.0.0.1 ports, with a slapd.conf and an mdb
// database in a temporary directory, loaded with the users a test asks
// for, and stopped (its whole process group) by Stop.
//
// It is a non-test package only so that several packages' tests can share
// it; it needs Linux (process groups, Pdeathsig).
package testslapd
