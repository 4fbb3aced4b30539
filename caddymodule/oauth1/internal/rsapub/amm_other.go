//go:build !amd64 || purego

package rsapub

const haveIFMA = false

// widths is empty: there is no IFMA code for this platform.
var widths [0]width
