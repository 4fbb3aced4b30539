// Package testtomcat starts a real Tomcat 9 (Debian's libtomcat9-java, run
// embedded by a small Java main compiled with the JDK's javac) for tests:
// on a free 127.0.0.1 port, with the connector settings of Jira's
// server.xml (useBodyEncodingForURI="true", URIEncoding UTF-8, its relaxed
// path and query characters) and Jira's encoding filter (UTF-8 for
// requests that declare no charset), and one servlet that answers with
// what Tomcat parsed from the bytes it received and what net.oauth
// 20100527, the OAuth library of Atlassian's service provider, would make
// of them: its OAuth parameters, its signature base string and its
// verdict (java/Oracle.java). It is the oracle the differential tests hold
// the applink handler and transport to: where they read a request
// differently from Tomcat and net.oauth, a product behind the proxy would
// receive something the proxy did not check.
//
// The Java source is compiled once per machine into the user's cache
// directory (keyed by a hash of the source and the JDK), so that a test
// binary only pays Tomcat's start, about a second. Stop (or closing the
// JVM's stdin, which Stop does) ends it, its whole process group.
//
// It is a non-test package only so that several packages' tests can share
// it; it needs Linux (process groups, Pdeathsig).
package testtomcat
