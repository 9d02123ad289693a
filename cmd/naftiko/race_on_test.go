//go:build race

package main

// raceBuild: the tests run with -race, so the binary they start is built
// with it too, and races in the served process fail the run.
const raceBuild = true
